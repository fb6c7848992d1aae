"""Laporan bulanan around the form: the reporting window, summaries, month-on-month comparison,
the mentor's group view, and the scheduled prompt from day 25."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.money import format_rupiah
from handlers.activities.reminders import in_reminder_hours, log_sent, message_to, was_sent
from handlers.kernel.cohorts import is_served, local_day
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, month_label, month_of, previous_month
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import option_number
from handlers.kernel.rules import SharedRules
from storage.models import MonthlyReport, Person, Role

PERMIT_KEYS = {"nib": "rep.permit_nib", "pirt": "rep.permit_pirt", "halal": "rep.permit_halal",
               "lainnya": "rep.permit_lainnya"}  # permit code -> its name, in the options' order
PERMITS = tuple(PERMIT_KEYS)
PERMIT_WORDS = {"lain": "lainnya", "lain-lain": "lainnya", "siup": "lainnya", "pirt": "pirt", "sppirt": "pirt"}


def report_window(now: datetime, config: Config) -> tuple[str, datetime] | None:
    """The month open for reporting now and its deadline: from day `report_open_day` of the month
    until day `report_deadline_day` of the next month (end of day); None between windows."""
    local = now.astimezone(config.timezone)
    current = month_of(now, config.timezone)
    if local.day >= config.rules(SharedRules).report_open_day:
        month = current
    elif local.day <= config.rules(SharedRules).report_deadline_day:
        month = previous_month(current)
    else:
        return None
    return month, report_deadline(month, config)


def report_deadline(month: str, config: Config) -> datetime:
    """The last moment a month's report can be sent: day `report_deadline_day` of the next month, end of day."""
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, config.rules(SharedRules).report_deadline_day, 23, 59, 59, tzinfo=config.timezone)


def latest_report_month(now: datetime, config: Config) -> str:
    """The newest month whose reporting has opened (what mentors look at)."""
    current = month_of(now, config.timezone)
    return current if now.astimezone(config.timezone).day >= config.rules(SharedRules).report_open_day else previous_month(current)


async def report_roll(session: AsyncSession, month: str, until: datetime, config: Config,
                      scope: ColumnElement[bool] | None = None) -> dict[int, bool]:
    """Who owes a month's report and whether it was sent by `until`: the one count behind the mentor's
    `laporan` and the coordinator's digest. Active participants (in scope) owe it when they were on the
    roster before its deadline; anyone who sent it counts too."""
    query = report_roll_query(month, until, config, scope)
    return {pid: bool(was_sent) for pid, was_sent in (await session.execute(query))}


def report_roll_query(month: str, until: datetime, config: Config,
                      scope: ColumnElement[bool] | None = None) -> Select[Any]:
    """report_roll as a query: (participant_id, sent) of everyone on the roll (to join, not to load)."""
    sent = (select(MonthlyReport.participant_id).where(
        MonthlyReport.month == month, MonthlyReport.submitted_at.is_not(None), MonthlyReport.submitted_at <= until)
        .subquery())
    query: Select[Any] = select(Person.id.label("participant_id"),  # type: ignore[assignment]
                                sent.c.participant_id.is_not(None).label("sent"))
    query = (query.outerjoin(sent, sent.c.participant_id == Person.id)
             .where(Person.role == Role.PESERTA, Person.is_active.is_(True),
                    or_(Person.created_at <= report_deadline(month, config), sent.c.participant_id.is_not(None))))
    return query if scope is None else query.where(scope)


async def roll_counts(session: AsyncSession, month: str, until: datetime, config: Config,
                      scope: ColumnElement[bool] | None = None) -> tuple[int, int]:
    """(sent, owed) of report_roll counted in SQL: those on the roster before the deadline, plus anyone who
    joined later and sent it anyway (two counts over indexes, no row per participant)."""
    deadline = report_deadline(month, config)
    people = [Person.role == Role.PESERTA, Person.is_active.is_(True), *([scope] if scope is not None else [])]
    early = (await session.execute(select(func.count()).select_from(Person).where(
        *people, Person.created_at <= deadline))).scalar_one()
    sent, late = (await session.execute(
        select(func.count(), func.coalesce(func.sum(case((Person.created_at > deadline, 1), else_=0)), 0))
        .select_from(MonthlyReport).join(Person, Person.id == MonthlyReport.participant_id)
        .where(MonthlyReport.month == month, MonthlyReport.submitted_at.is_not(None),
               MonthlyReport.submitted_at <= until, *people))).one()
    return int(sent), int(early) + int(late)


async def report_of(session: AsyncSession, participant_id: int, month: str) -> MonthlyReport | None:
    """The participant's report (sent or draft) for a month."""
    query = select(MonthlyReport).where(MonthlyReport.participant_id == participant_id,
                                        MonthlyReport.month == month)
    return (await session.execute(query)).scalar_one_or_none()


def summary(values: dict[str, Any], language: str) -> str:
    """The answers as a short block for confirmation and for mentors."""
    omzet = values.get("omzet")
    return t("rep.summary", language, omzet=format_rupiah(omzet) if omzet is not None else "—",
             workers=values.get("workers", "—"), customers=values.get("customers", "—"),
             permits=permit_names(values.get("permits") or [], language), problem=values.get("problem") or "—")


def permit_names(codes: list[str], language: str) -> str:
    """"NIB, Halal" or "belum ada"."""
    return ", ".join(t(PERMIT_KEYS[code], language) for code in codes) or t("rep.no_permits", language)


def parse_permits(text: str) -> list[str] | None:
    """Numbers of the options or their names, in the options' order; None if anything is unknown."""
    tokens = [token for token in re.split(r"[\s,;/]+|\bdan\b", text.replace("p-irt", "pirt")) if token]
    chosen = set()
    for token in tokens:
        if (number := option_number(token, len(PERMITS))) is not None:
            chosen.add(PERMITS[number - 1])
        elif PERMIT_WORDS.get(token, token) in PERMITS:
            chosen.add(PERMIT_WORDS.get(token, token))
        else:
            return None
    return [code for code in PERMITS if code in chosen] if chosen else None


def comparison(report: MonthlyReport, previous: MonthlyReport | None, language: str) -> str:
    """"📈 Omzet naik 12% dari Februari" (and new permits), or a first-report note."""
    if previous is None or previous.omzet is None or report.omzet is None:
        return t("rep.compare_first", language)
    month = month_label(previous.month, language).rsplit(" ", 1)[0]
    old, new = previous.omzet, report.omzet
    if old == 0:
        text = t("rep.compare_same" if new == 0 else "rep.compare_from_zero", language, month=month)
    else:
        change = round((new - old) * 100 / old)
        key = "rep.compare_up" if change > 0 else "rep.compare_down" if change < 0 else "rep.compare_same"
        text = t(key, language, pct=abs(change), month=month, old=format_rupiah(old), new=format_rupiah(new))
    added = [code for code in report.permits if code not in previous.permits]
    if added:
        text += "\n" + t("rep.compare_new_permits", language,
                         permits=", ".join(t(PERMIT_KEYS[code], language) for code in added))
    return text


async def show_group_reports(ctx: Context) -> None:
    """Mentors: their participants' reports and who has not reported; coordinators: everyone."""
    month = latest_report_month(ctx.now, ctx.config)
    scope = None if ctx.person.role == Role.KOORDINATOR else Person.mentor_id == ctx.person.id
    roll = await report_roll(ctx.session, month, ctx.now, ctx.config, scope)
    query = select(Person).where(Person.role == Role.PESERTA, Person.is_active.is_(True)).order_by(Person.name)
    if scope is not None:
        query = query.where(scope)
    people = [person for person in (await ctx.session.execute(query)).scalars() if person.id in roll]
    lines, missing = [], []
    for person in people:
        report = await report_of(ctx.session, person.id, month)
        if report is None or report.submitted_at is None:
            missing.append(person.name)
            continue
        previous = await report_of(ctx.session, person.id, previous_month(month))
        change = (comparison(report, previous, ctx.lang) if previous is not None and previous.submitted_at
                  else t("rep.staff_first", ctx.lang))
        lines.append(t("rep.staff_line", ctx.lang, name=person.name, business=person.business_name or "—",
                       summary=summary(values_of(report), ctx.lang), change=change))
    ctx.reply("rep.staff_view", month=month_label(month, ctx.lang), sent=len(lines), total=len(people),
              lines="\n\n".join(lines) or t("rep.staff_none", ctx.lang),
              missing=", ".join(missing) or t("rep.staff_all_sent", ctx.lang))


def values_of(report: MonthlyReport) -> dict[str, Any]:
    """The confirmed values of a report as a dict for summary()."""
    return {"omzet": report.omzet, "workers": report.workers, "customers": report.customers,
            "permits": list(report.permits), "problem": report.main_problem}


async def prompt_monthly_reports(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """From the opening day: ask each participant once; on the deadline day, remind who has not sent."""
    window = report_window(now, config)
    if window is None or not in_reminder_hours(now, config):
        return []
    month, deadline = window
    is_last_day = now.astimezone(config.timezone).date() == deadline.date()
    purpose = "report_last_call" if is_last_day else "report_prompt"
    query = select(Person).where(Person.role == Role.PESERTA, Person.is_active.is_(True),
                                 Person.consent_given.is_(True), is_served(local_day(now, config.timezone)))
    messages = []
    for person in (await session.execute(query)).scalars():
        report = await report_of(session, person.id, month)
        if report is not None and report.submitted_at is not None:
            continue
        if await was_sent(session, purpose, 0, person.id, month):
            continue
        log_sent(session, purpose, 0, person.id, now, period=month)
        lang = person.language or config.language
        label = month_label(month, lang)
        messages.append(message_to(
            person, "rep.report_last_call" if is_last_day else "rep.report_prompt", config, month=label,
            deadline=format_moment(deadline, config.timezone, lang),
            buttons=(Button(t("rep.btn_fill", lang), "rep:start"),),
            template="report_prompt", template_vars={"1": person.name, "2": label}))
    return messages
