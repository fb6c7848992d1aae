"""The web console at /console: server-rendered pages over the same handler functions as the chat."""

from bot.console.app import Console

__all__ = ["Console"]
