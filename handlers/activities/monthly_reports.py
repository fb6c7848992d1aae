"""Laporan bulanan for participants: omzet → workers → customers → permits → main problem → confirm.

Answers are kept in the report's draft after every step, so the form can be left (another
command, a question, "batal") and resumed where it stopped; confirmed values are editable
until the month's deadline.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from handlers.activities.money import AmountError, format_rupiah, parse_rupiah
from handlers.activities.report_views import (
    PERMITS,
    comparison,
    parse_permits,
    permit_names,
    report_of,
    report_window,
    show_group_reports,
    summary,
    values_of,
)
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, month_label, previous_month
from handlers.kernel.forms import (
    Again,
    Choice,
    Data,
    Form,
    Retry,
    Step,
    command_args,
    confirmation,
    pass_on,
)
from handlers.kernel.i18n import t
from handlers.kernel.intents import FILLERS, NO, is_no, is_yes, words
from handlers.kernel.messages import Button
from handlers.kernel.registry import action, command
from handlers.kernel.roles import MANAGERS, PARTICIPANTS, is_participant
from handlers.kernel.rules import SharedRules
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import MonthlyReport
from storage.outcomes import refresh_participant_outcomes

FLOW = "rep_form"
NONE_WORDS = frozenset({"tidak ada", "tidak", "belum", "belum ada", "-", "0", "none"})
DONE_WORDS = frozenset({"selesai", "lanjut", "sudah", "done"})
REMOVE = re.compile(r"^(?:hapus|buang|remove|delete)(?![a-z])\s*(.*)$")
# "ga ada", "blm ada pekerja", "sendirian aja": the words of a "none" answer besides the "no" words.
NONE_MARKS = frozenset({"sendiri", "sendirian", "nihil", "kosong", "nol", "none"})
NONE_EXTRAS = NONE_MARKS | {"ada", "punya", "pekerja", "karyawan", "pegawai", "pelanggan", "pembeli", "masih",
                            "cuma", "hanya", "izin", "masalah", "kendala"}
COUNT_IN = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+)(?![\d.,]*\d)")
COUNT = re.compile(r"^[±~]?\s*(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:an|orang|pelanggan|pembeli|org)?$")
REPORT = "report"  # the report's id, in the conversation state and in the form's data
REDO_WORDS = ("ubah", "ganti", "salah", "edit")
JUMP = 10  # an omzet this many times last month's (or a this-many-th of it) is confirmed before it counts
OMZET_HINTS = {"empty": "rep.hint_omzet_empty", "not_a_number": "rep.hint_omzet_not_a_number",
               "needs_unit": "rep.hint_omzet_needs_unit", "negative": "rep.hint_omzet_negative",
               "too_large": "rep.hint_omzet_too_large"}


@command("laporan", args=r"bulanan", roles=PARTICIPANTS | MANAGERS, help_key="rep.help", menu_key="rep.menu", order=23)
async def monthly_report(ctx: Context) -> None:
    """Participants fill in (or resume, or edit) their report; staff see their group's reports."""
    if command_args(ctx) and command_args(ctx).lower() != "bulanan":
        await pass_on(ctx)
        return
    if not is_participant(ctx.person):
        await show_group_reports(ctx)
        return
    await open_report_form(ctx)


async def open_report_form(ctx: Context) -> None:
    """Start, resume where it stopped, or show the sent report with an edit button."""
    window = report_window(ctx.now, ctx.config)
    if window is None:
        ctx.reply("rep.closed", day=ctx.config.rules(SharedRules).report_open_day)
        return
    month, deadline = window
    report = await report_of(ctx.session, ctx.person.id, month)
    if report is None:
        report = MonthlyReport(participant_id=ctx.person.id, month=month, permits=[], draft={},
                               created_at=ctx.now, updated_at=ctx.now)
        ctx.session.add(report)
        await ctx.session.flush()
    if report.form_step in REPORT_FORM:
        ctx.reply("rep.resuming", month=month_label(month, ctx.lang))
        await REPORT_FORM.ask(ctx, {**report.draft, REPORT: report.id}, report.form_step)
    elif report.submitted_at is not None:
        ctx.reply("rep.already_sent", buttons=(Button(t("rep.btn_edit", ctx.lang), "rep:edit"),),
                  month=month_label(month, ctx.lang), summary=summary(values_of(report), ctx.lang),
                  deadline=format_moment(deadline, ctx.config.timezone, ctx.lang))
    else:
        await start_draft(ctx, report)


async def start_draft(ctx: Context, report: MonthlyReport) -> None:
    """A new draft; permits start from last month's (a permit once obtained stays obtained)."""
    previous = await report_of(ctx.session, ctx.person.id, previous_month(report.month))
    carried = list(previous.permits) if previous and previous.submitted_at else []
    draft: Data = values_of(report) if report.submitted_at else {"permits": carried, "carried": carried}
    if previous and previous.submitted_at and previous.omzet:
        draft["previous_omzet"] = previous.omzet
    ctx.reply("rep.intro", month=month_label(report.month, ctx.lang))
    await REPORT_FORM.start(ctx, {**draft, REPORT: report.id})


class DraftStore:
    """The form's step and answers live in the report (`form_step`, `draft`), so leaving the form
    ("batal", another flow) keeps them; the conversation state only points at the report."""

    async def load(self, ctx: Context, form: str) -> tuple[str, Data] | None:
        """The open report form, if the state points at a report of this person still being filled in."""
        state = await get_state(ctx.session, ctx.person.id)
        report = await ctx.session.get(MonthlyReport, state.data.get(REPORT)) if state and state.flow == form else None
        if report is None or not report.form_step or report.participant_id != ctx.person.id:
            return None
        return report.form_step, {**report.draft, REPORT: report.id}

    async def save(self, ctx: Context, form: str, step: str, data: Data) -> None:
        """Keep step and answers in the report; point the conversation state at it."""
        report = await ctx.session.get(MonthlyReport, data[REPORT])
        assert report is not None
        report.form_step, report.updated_at = step, ctx.now
        report.draft = {key: value for key, value in data.items() if key != REPORT}
        await set_state(ctx.session, ctx.person.id, form, {REPORT: report.id}, ctx.now)

    async def clear(self, ctx: Context, form: str) -> None:
        """Leave the flow (the report keeps what it holds)."""
        await clear_state(ctx.session, ctx.person.id)


def read_omzet(ctx: Context, data: Data) -> Any:
    """Any common way of writing rupiah (a new amount is not yet confirmed); otherwise say why and show examples."""
    try:
        return parse_rupiah(ctx.text), None
    except AmountError as error:
        return Retry(OMZET_HINTS[error.reason])


def is_jump(data: Data) -> bool:
    """The omzet is more than JUMP times last month's, or less than a JUMP-th of it, and not yet confirmed."""
    old, new = data.get("previous_omzet"), data.get("omzet")
    if not old or new is None or data.get("omzet_ok") is True:
        return False
    return bool(new > old * JUMP or new * JUMP < old)


def read_omzet_check(ctx: Context, data: Data) -> Any:
    """Yes keeps the amount (True); no or \"ubah\" asks it again (False)."""
    lowered = ctx.text.lower()
    if is_yes(lowered):
        return True
    if is_no(lowered) or lowered.startswith(REDO_WORDS):
        return False
    return Retry("rep.hint_omzet_check")


async def omzet_check_values(ctx: Context, data: Data) -> dict[str, str]:
    """The new and last month's omzet, and which month that was."""
    return {"new": format_rupiah(data["omzet"]), "old": format_rupiah(data["previous_omzet"]),
            "month": month_label(previous_month(await report_month(ctx, data)), ctx.lang)}


def omzet_check_buttons(ctx: Context, data: Data) -> list[Choice | Button]:
    """Keep the amount, or write it again."""
    return [Choice(t("rep.btn_omzet_right", ctx.lang), "oy", True),
            Choice(t("rep.btn_omzet_redo", ctx.lang), "on", False)]


async def report_month(ctx: Context, data: Data) -> str:
    """The \"YYYY-MM\" the form reports."""
    report = await ctx.session.get(MonthlyReport, data[REPORT])
    assert report is not None
    return report.month


async def month_values(ctx: Context, data: Data) -> dict[str, str]:
    """The report's month by name for the prompts (December reported in January is not \"bulan ini\")."""
    return {"month": month_label(await report_month(ctx, data), ctx.lang)}


def parse_count(text: str) -> int | None:
    """"3", "3 orang", "1.200", "±40", "tidak ada", "ga ada kak", "saya sendiri aja" → a whole number of
    people; in a sentence ("ada 3 org kak", "pelanggan kira2 40an") the one number in it."""
    lowered = text.strip().lower()
    if lowered in NONE_WORDS or is_none_answer(lowered):
        return 0
    match = COUNT.match(lowered)
    if match:
        return int(match[1].replace(".", ""))
    found = COUNT_IN.findall(lowered)
    return int(found[0].replace(".", "")) if len(found) == 1 else None  # "1-2 orang": not guessed


def is_none_answer(text: str) -> bool:
    """"ga ada kak", "blm ada", "nihil", "saya sendiri aja": none, in any of the ways people write it."""
    if any(char.isdigit() for char in text):
        return False
    found = [word for word in words(text) if word not in FILLERS]
    return bool(found) and all(word in NO or word in NONE_EXTRAS for word in found) \
        and any(word in NONE_MARKS or (word in NO and "ada" in found) for word in found)


def read_workers(ctx: Context, data: Data) -> Any:
    """A number of workers."""
    count = parse_count(ctx.text)
    return Retry("rep.hint_workers") if count is None else count


def read_customers(ctx: Context, data: Data) -> Any:
    """A number of customers."""
    count = parse_count(ctx.text)
    return Retry("rep.hint_customers") if count is None else count


def read_permits(ctx: Context, data: Data) -> Any:
    """"1,3" or "nib halal" adds, "hapus 1" removes, "selesai" (or "tidak ada": nothing to add) goes on."""
    lowered, chosen = ctx.text.lower(), data.get("permits", [])
    if lowered in DONE_WORDS or lowered in NONE_WORDS or is_none_answer(lowered):
        return chosen
    removal = REMOVE.match(lowered)
    wanted = removal[1].strip() if removal else lowered
    codes = list(PERMITS) if removal and wanted == "semua" else parse_permits(wanted)
    if codes is None:
        return Retry("rep.hint_permits")
    if removal:
        return Again([p for p in chosen if p not in codes])
    return added_permits(ctx, data, codes)


def added_permits(ctx: Context, data: Data, codes: list[str]) -> Again | Retry:
    """Tick more permits (never un-tick: that takes "hapus"); re-ask to allow more, or "Selesai"."""
    chosen = data.get("permits", [])
    if all(code in chosen for code in codes):
        return Retry("rep.hint_permit_kept", {"permits": permit_names(codes, ctx.lang),
                                              "numbers": ",".join(str(PERMITS.index(code) + 1) for code in codes)})
    return Again([p for p in PERMITS if p in chosen or p in codes])


def permit_buttons(ctx: Context, data: Data) -> list[Choice | Button]:
    """A button per permit (ticked when chosen; rep:p:<permit> adds it), then Selesai (rep:pd)."""
    chosen = data.get("permits", [])
    return [*(Choice(("✅ " if code in chosen else "") + permit_names([code], ctx.lang), f"p:{code}",
                     added_permits(ctx, data, [code])) for code in PERMITS),
            Choice(t("rep.btn_permits_done", ctx.lang), "pd", chosen)]


def permits_values(ctx: Context, data: Data) -> dict[str, str]:
    """What is chosen, saying when it came from last month."""
    chosen, carried = data.get("permits", []), data.get("carried", [])
    origin = "rep.permits_carried" if carried and chosen == carried else "rep.permits_chosen"
    return {"chosen": t(origin, ctx.lang, permits=permit_names(chosen, ctx.lang))}


def read_problem(ctx: Context, data: Data) -> Any:
    """A short description, or "tidak ada"."""
    text = ctx.text
    return text if 3 <= len(text) <= 1000 or text.lower() in NONE_WORDS else Retry("rep.hint_problem")


def confirm_buttons(ctx: Context, data: Data) -> list[Choice | Button]:
    """Send (rep:ok) or go through the form again (rep:edit)."""
    return [Choice(t("rep.btn_send", ctx.lang), "ok", True), Button(t("rep.btn_edit", ctx.lang), "rep:edit")]


async def submit_report(ctx: Context, data: Data) -> bool:
    """Confirm the draft as the month's report and compare it with last month."""
    report = await ctx.session.get(MonthlyReport, data[REPORT])
    assert report is not None
    window = report_window(ctx.now, ctx.config)
    if window is None or window[0] != report.month:
        ctx.reply("rep.closed", day=ctx.config.rules(SharedRules).report_open_day)
        return False
    draft = report.draft
    report.omzet, report.workers, report.customers = draft["omzet"], draft["workers"], draft["customers"]
    report.permits, report.main_problem = list(draft.get("permits", [])), draft["problem"]
    report.submitted_at = report.submitted_at or ctx.now
    report.updated_at, report.form_step, report.draft = ctx.now, "", {}
    await ctx.session.flush()
    for statement in refresh_participant_outcomes([report.participant_id]):  # the digest sums these rows
        await ctx.session.execute(statement)
    previous = (await ctx.session.execute(select(MonthlyReport).where(
        MonthlyReport.participant_id == ctx.person.id, MonthlyReport.month == previous_month(report.month),
        MonthlyReport.submitted_at.is_not(None)))).scalar_one_or_none()
    ctx.reply("rep.saved", month=month_label(report.month, ctx.lang),
              comparison=comparison(report, previous, ctx.lang),
              deadline=format_moment(window[1], ctx.config.timezone, ctx.lang))
    return True


REPORT_FORM = Form(FLOW, prefix="rep", label_key="rep.form_label", finish=submit_report, store=DraftStore(), expired="rep.form_expired",
                   steps=(
    Step("omzet", "rep.ask_omzet", read_omzet, into=("omzet", "omzet_ok"), values=month_values),
    Step("omzet_check", "rep.ask_omzet_check", read_omzet_check, into="omzet_ok", when=is_jump,
         next=lambda data: "omzet" if data.get("omzet_ok") is False else "workers",
         values=omzet_check_values, buttons=omzet_check_buttons),
    Step("workers", "rep.ask_workers", read_workers),
    Step("customers", "rep.ask_customers", read_customers, values=month_values),
    Step("permits", "rep.ask_permits", read_permits, values=permits_values, buttons=permit_buttons),
    Step("problem", "rep.ask_problem", read_problem, values=month_values),
    Step("confirm", "rep.ask_confirm", confirmation("rep.hint_confirm"), into=(), buttons=confirm_buttons,
         values=lambda ctx, data: {"summary": summary(data, ctx.lang)}),
))


async def current_report(ctx: Context) -> MonthlyReport | None:
    """The report whose form the person is in, if the form is still open."""
    current = await REPORT_FORM.current(ctx)
    return await ctx.session.get(MonthlyReport, current[1][REPORT]) if current else None


@action("rep", roles=PARTICIPANTS)
async def report_button(ctx: Context, argument: str) -> None:
    """rep:start, rep:edit, rep:oy|on (omzet right or redo), rep:p:<permit> (add), rep:pd (permits done), rep:ok (send)."""
    if argument == "start":
        await open_report_form(ctx)
    elif argument == "edit":
        await edit_report(ctx, await current_report(ctx))
    else:
        await REPORT_FORM.press(ctx, argument)


async def edit_report(ctx: Context, report: MonthlyReport | None) -> None:
    """Go through the form again (the sent values stay valid until the new ones are confirmed)."""
    window = report_window(ctx.now, ctx.config)
    report = report or (await report_of(ctx.session, ctx.person.id, window[0]) if window else None)
    if window is None or report is None or report.month != window[0]:
        ctx.reply("rep.closed", day=ctx.config.rules(SharedRules).report_open_day)
        return
    await start_draft(ctx, report)
