"""Composition root: settings, channel adapters, HTTP server, command line."""

import sys

# httpx imports its command-line client (rich, pygments, click: ≈4.7 MB resident) whenever rich is installed
# (it is, with the test tools); the bot never runs that client. A None entry makes the import fail, which
# httpx expects (without rich it fails the same way): its `httpx.main` then says how to get the client.
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
