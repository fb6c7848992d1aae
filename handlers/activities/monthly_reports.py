"""Laporan bulanan for participants: omzet → workers → customers → permits → main problem → confirm.

Answers are kept in the report's draft after every step, so the form can be left (another
command, a question, "batal") and resumed where it stopped; confirmed values are editable
until the month's deadline.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from handlers.activities.dates import format_moment, month_label, previous_month
from handlers.activities.money import AmountError, parse_rupiah
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
from handlers.kernel.forms import command_args, is_yes, pass_on
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.registry import action, command, flow
from handlers.kernel.roles import MANAGERS, PARTICIPANTS, is_participant
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import MonthlyReport

FLOW = "rep_form"
NONE_WORDS = frozenset({"tidak ada", "tidak", "belum", "belum ada", "-", "0", "none"})
DONE_WORDS = frozenset({"selesai", "lanjut", "sudah", "done"})
REMOVE = re.compile(r"^(?:hapus|buang|remove|delete)(?![a-z])\s*(.*)$")
COUNT = re.compile(r"^[±~]?\s*(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:an|orang|pelanggan|pembeli|org)?$")


@command("laporan", roles=PARTICIPANTS | MANAGERS, help_key="rep.help", menu_key="rep.menu", order=23)
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
        ctx.reply("rep.closed", day=ctx.config.report_open_day)
        return
    month, deadline = window
    report = await report_of(ctx.session, ctx.person.id, month)
    if report is None:
        report = MonthlyReport(participant_id=ctx.person.id, month=month, permits=[], draft={},
                               created_at=ctx.now, updated_at=ctx.now)
        ctx.session.add(report)
        await ctx.session.flush()
    if report.form_step:
        ctx.reply("rep.resuming", month=month_label(month, ctx.lang))
        await ask(ctx, report, report.form_step)
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
    report.draft = values_of(report) if report.submitted_at else {"permits": carried, "carried": carried}
    ctx.reply("rep.intro", month=month_label(report.month, ctx.lang))
    await ask(ctx, report, "omzet")


async def ask(ctx: Context, report: MonthlyReport, step: str, *, hint: str | None = None,
              **hint_values: Any) -> None:
    """Save where the form is and ask the step's question (after a hint for an unusable answer)."""
    report.form_step, report.updated_at = step, ctx.now
    await set_state(ctx.session, ctx.person.id, FLOW, {"report": report.id}, ctx.now)
    prefix = t(hint, ctx.lang, **hint_values) + "\n\n" if hint else ""
    if step == "permits":
        ask_permits(ctx, report, prefix)
    elif step == "confirm":
        ctx.reply("rep.ask_confirm", prefix=prefix, summary=summary(report.draft, ctx.lang),
                  buttons=(Button(t("rep.btn_send", ctx.lang), "rep:ok"), Button(t("rep.btn_edit", ctx.lang), "rep:edit")))
    else:
        ctx.reply(f"rep.ask_{step}", prefix=prefix)


def ask_permits(ctx: Context, report: MonthlyReport, prefix: str) -> None:
    """Permit buttons (ticked when chosen) and what is chosen, saying when it came from last month."""
    chosen, carried = report.draft.get("permits", []), report.draft.get("carried", [])
    buttons = tuple(Button(("✅ " if code in chosen else "") + t(f"rep.permit_{code}", ctx.lang), f"rep:p:{code}")
                    for code in PERMITS)
    origin = "rep.permits_carried" if carried and chosen == carried else "rep.permits_chosen"
    ctx.reply("rep.ask_permits", buttons=(*buttons, Button(t("rep.btn_permits_done", ctx.lang), "rep:pd")),
              prefix=prefix, chosen=t(origin, ctx.lang, permits=permit_names(chosen, ctx.lang)))


async def current_report(ctx: Context) -> MonthlyReport | None:
    """The report whose form the person is in, if the form is still open."""
    state = await get_state(ctx.session, ctx.person.id)
    report = await ctx.session.get(MonthlyReport, state.data.get("report")) if state and state.flow == FLOW else None
    if report is None or not report.form_step or report.participant_id != ctx.person.id:
        return None
    return report


@action("rep", roles=PARTICIPANTS)
async def report_button(ctx: Context, argument: str) -> None:
    """rep:start, rep:edit, rep:p:<permit> (add), rep:pd (permits done), rep:ok (send)."""
    verb, _, code = argument.partition(":")
    if verb == "start":
        await open_report_form(ctx)
        return
    report = await current_report(ctx)
    if verb == "edit":
        await edit_report(ctx, report)
    elif report is None:
        ctx.reply("rep.form_expired")
    elif verb == "p" and code in PERMITS and report.form_step == "permits":
        await add_permits(ctx, report, [code])
    elif verb == "pd" and report.form_step == "permits":
        await ask(ctx, report, "problem")
    elif verb == "ok" and report.form_step == "confirm":
        await submit_report(ctx, report)
    else:
        await ask(ctx, report, report.form_step)


async def edit_report(ctx: Context, report: MonthlyReport | None) -> None:
    """Go through the form again (the sent values stay valid until the new ones are confirmed)."""
    window = report_window(ctx.now, ctx.config)
    report = report or (await report_of(ctx.session, ctx.person.id, window[0]) if window else None)
    if window is None or report is None or report.month != window[0]:
        ctx.reply("rep.closed", day=ctx.config.report_open_day)
        return
    await start_draft(ctx, report)


@flow(FLOW)
async def receive_report_answer(ctx: Context) -> None:
    """Free text is the answer to the current step, or gets a friendly re-ask."""
    report = await current_report(ctx)
    if report is None:
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("rep.form_expired")
        return
    step, text = report.form_step, ctx.text
    if step == "omzet":
        await receive_omzet(ctx, report, text)
    elif step in ("workers", "customers"):
        count = parse_count(text)
        following = "customers" if step == "workers" else "permits"
        if count is None:
            await ask(ctx, report, step, hint=f"rep.hint_{step}")
        else:
            report.draft = {**report.draft, step: count}
            await ask(ctx, report, following)
    elif step == "permits":
        await receive_permits(ctx, report, text)
    elif step == "problem":
        ok = 3 <= len(text) <= 1000 or text.lower() in NONE_WORDS
        if ok:
            report.draft = {**report.draft, "problem": text}
        await ask(ctx, report, "confirm" if ok else "problem", hint=None if ok else "rep.hint_problem")
    elif is_yes(text):
        await submit_report(ctx, report)
    else:
        await ask(ctx, report, "confirm", hint="rep.hint_confirm")


async def receive_omzet(ctx: Context, report: MonthlyReport, text: str) -> None:
    """Any common way of writing rupiah; otherwise say why and show examples."""
    try:
        amount = parse_rupiah(text)
    except AmountError as error:
        await ask(ctx, report, "omzet", hint=f"rep.hint_omzet_{error.reason}")
        return
    report.draft = {**report.draft, "omzet": amount}
    await ask(ctx, report, "workers")


def parse_count(text: str) -> int | None:
    """"3", "3 orang", "1.200", "±40", "tidak ada" → a whole number of people."""
    lowered = text.strip().lower()
    if lowered in NONE_WORDS or lowered in ("sendiri", "saya sendiri"):
        return 0
    match = COUNT.match(lowered)
    return int(match[1].replace(".", "")) if match else None


async def receive_permits(ctx: Context, report: MonthlyReport, text: str) -> None:
    """"1,3" or "nib halal" adds, "hapus 1" removes, "selesai" (or "tidak ada": nothing to add) goes on."""
    lowered = text.lower()
    if lowered in DONE_WORDS or lowered in NONE_WORDS:
        await ask(ctx, report, "problem")
        return
    removal = REMOVE.match(lowered)
    wanted = removal[1].strip() if removal else lowered
    codes = list(PERMITS) if removal and wanted == "semua" else parse_permits(wanted)
    if codes is None:
        await ask(ctx, report, "permits", hint="rep.hint_permits")
    elif removal:
        report.draft = {**report.draft, "permits": [p for p in report.draft.get("permits", []) if p not in codes]}
        await ask(ctx, report, "permits")
    else:
        await add_permits(ctx, report, codes)


async def add_permits(ctx: Context, report: MonthlyReport, codes: list[str]) -> None:
    """Tick more permits (never un-tick: that takes "hapus"); re-ask to allow more, or "Selesai"."""
    chosen = report.draft.get("permits", [])
    if all(code in chosen for code in codes):
        await ask(ctx, report, "permits", hint="rep.hint_permit_kept", permits=permit_names(codes, ctx.lang),
                  numbers=",".join(str(PERMITS.index(code) + 1) for code in codes))
        return
    report.draft = {**report.draft, "permits": [p for p in PERMITS if p in chosen or p in codes]}
    await ask(ctx, report, "permits")


async def submit_report(ctx: Context, report: MonthlyReport) -> None:
    """Confirm the draft as the month's report and compare it with last month."""
    window = report_window(ctx.now, ctx.config)
    if window is None or window[0] != report.month:
        ctx.reply("rep.closed", day=ctx.config.report_open_day)
        return
    draft = report.draft
    report.omzet, report.workers, report.customers = draft["omzet"], draft["workers"], draft["customers"]
    report.permits, report.main_problem = list(draft.get("permits", [])), draft["problem"]
    report.submitted_at = report.submitted_at or ctx.now
    report.updated_at, report.form_step, report.draft = ctx.now, "", {}
    await clear_state(ctx.session, ctx.person.id)
    previous = (await ctx.session.execute(select(MonthlyReport).where(
        MonthlyReport.participant_id == ctx.person.id, MonthlyReport.month == previous_month(report.month),
        MonthlyReport.submitted_at.is_not(None)))).scalar_one_or_none()
    ctx.reply("rep.saved", month=month_label(report.month, ctx.lang),
              comparison=comparison(report, previous, ctx.lang),
              deadline=format_moment(window[1], ctx.config.timezone, ctx.lang))

