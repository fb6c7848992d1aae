"""Import every feature module so its commands, actions and flows are registered."""

from handlers import menu, onboarding, questions

__all__ = ["menu", "onboarding", "questions"]
