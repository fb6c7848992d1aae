"""Import every feature module so its commands, actions and flows are registered."""

from handlers import admin, menu, onboarding, questions

__all__ = ["admin", "menu", "onboarding", "questions"]
