"""Pieces every activity form shares: command arguments, passing non-answers on, numeric questions."""

from __future__ import annotations

from handlers.kernel.context import Context


def command_args(ctx: Context) -> str:
    """The text after the command word ("hadir 4821" → "4821")."""
    parts = ctx.text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def pass_on(ctx: Context) -> None:
    """The first word matched a command but the text is an answer or a question: route it as free text."""
    await ctx.continue_as_text()


def is_yes(text: str) -> bool:
    """Typed confirmation in a form."""
    return text.strip().lower() in {"ya", "y", "iya", "ok", "oke", "kirim", "simpan", "yes", "benar"}
