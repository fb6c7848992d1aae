"""The main menu and help: built from the commands every feature registered."""

from __future__ import annotations

from functools import cache

from rapidfuzz import fuzz, process

from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.parking import draft_button, keep_offered_draft
from handlers.kernel.registry import COMMANDS, Command, action, command
from handlers.kernel.roles import EVERYONE, is_participant
from storage.models import Role

TYPO_CUTOFF = 86  # "presnsi" → presensi 93, "tgas" → tugas 89, "lapran" → laporan 92; "tugasnya" 77 is not offered

MENU_KEYS: dict[str, str] = {
    Role.PESERTA: "core.menu_peserta", Role.PENDAMPING: "core.menu_pendamping",
    Role.NARASUMBER: "core.menu_narasumber", Role.KOORDINATOR: "core.menu_koordinator"}

def _commands_for(role: str) -> list[Command]:
    unique = {id(c): c for c in COMMANDS.values()}.values()
    return sorted((c for c in unique if Role(role) in c.roles), key=lambda c: (c.order, c.name))


def menu_buttons(role: str, language: str) -> tuple[Button, ...]:
    """One button per menu command the role may use."""
    return tuple(Button(t(c.menu_key, language), f"cmd:{c.name}")
                 for c in _commands_for(role) if c.menu_key)


@command("menu", aliases=("start", "mulai"), roles=EVERYONE, order=0)
async def show_main_menu(ctx: Context) -> None:
    """Show the role's menu."""
    ctx.reply(MENU_KEYS[ctx.person.role], buttons=menu_buttons(ctx.person.role, ctx.lang),
              name=ctx.person.name)


@command("bantuan", aliases=("help",), roles=EVERYONE, order=1)
async def show_help(ctx: Context) -> None:
    """List the commands the person may use, one line each."""
    lines = [f"• {t(c.help_key, ctx.lang)}" for c in _commands_for(ctx.person.role) if c.help_key]
    ctx.reply("core.help", commands="\n".join(lines))


@action("cmd")
async def run_menu_command(ctx: Context, name: str) -> None:
    """A menu button runs its command (the role check happens in the router)."""
    await ctx.run_command(name)


def meant_command(text: str, role: str) -> str | None:
    """The command of the role a one-word message was probably typed for ("presnsi", "lapran", "antrin")."""
    word = text.strip().lower().lstrip("/")
    if not word.isalpha() or not word.isascii() or len(word) < 4 or word in COMMANDS:
        return None
    found = process.extractOne(word, _command_words(role), scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
    return COMMANDS[found[0]].name if found else None


@cache
def _command_words(role: str) -> tuple[str, ...]:
    """The command words (names and aliases) a role may use; every feature has registered them at import."""
    return tuple(sorted(word for word, entry in COMMANDS.items() if Role(role) in entry.roles))


async def offer_meant_command(ctx: Context, name: str) -> None:
    """"Maksud Anda *presensi*?" with one tap to run it; a participant's word is kept as a question too."""
    buttons = [Button(t("core.btn_meant_command", ctx.lang, command=name), f"cmd:{name}")]
    if is_participant(ctx.person):
        buttons.append(draft_button(ctx, "core.btn_not_a_command", await keep_offered_draft(ctx)))
    ctx.reply("core.did_you_mean", buttons=tuple(buttons), command=name)
