"""A person's rights in chat: withdraw consent by typing it, ask for erasure, get their own data (`data saya`).

"cabut persetujuan", "berhenti", "hapus data saya" and close variants (kernel/intents.py) are read
before anything else, so they are never filed into a question; each asks for a confirmation first.
Withdrawing stops processing as for a person who declined (their open questions close, nothing is
sent to them any more) and tells their mentor and the coordinators; `setuju` brings them back.
"""

from __future__ import annotations

import re

from handlers.kernel.consent import WITHDRAWN, has_consent, record_consent
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.intents import privacy_request
from handlers.kernel.lifecycle import WITHDRAWN as STOPPED_BY_WITHDRAWAL
from handlers.kernel.lifecycle import active_people, stop_serving
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.registry import action, command
from handlers.kernel.roles import EVERYONE
from handlers.privacy.export import export_file
from handlers.privacy.rules import PrivacyRules
from storage.models import Person, Role

OWN_DATA = r"(saya|sy|aku|ku|pribadi)"


async def handle_privacy_request(ctx: Context, payload: str | None) -> bool:
    """Before consent checks and forms: a typed request to withdraw or erase asks for confirmation."""
    if payload is not None or ctx.inbound.attachments:
        return False
    if not has_consent(ctx.person) and re.fullmatch(rf"/?data(\s+{OWN_DATA})?", ctx.text, re.IGNORECASE):
        await send_own_data(ctx)  # a right without consent too: someone who withdrew may still ask for their data
        return True
    kind = privacy_request(ctx.text)
    if kind is None:
        return False
    if kind == "withdraw" and not has_consent(ctx.person):
        ctx.reply("pdp.not_processing", contact=ctx.config.coordinator_contact)
        return True
    key, label = (("pdp.confirm_erase", "pdp.btn_erase") if kind == "erase"
                  else ("pdp.confirm_withdraw", "pdp.btn_withdraw"))
    ctx.reply(key, buttons=(Button(t(label, ctx.lang), f"pdp:{kind}"),
                            Button(t("pdp.btn_keep", ctx.lang), "pdp:keep")))
    return True


@action("pdp", roles=EVERYONE)
async def privacy_choice(ctx: Context, argument: str) -> None:
    """pdp:withdraw and pdp:erase after the confirmation; pdp:keep changes nothing."""
    if argument == "keep":
        ctx.reply("pdp.kept" if has_consent(ctx.person) else "pdp.kept_without_consent")
        return
    if argument not in ("withdraw", "erase"):
        ctx.reply("core.unknown_button")
        return
    await withdraw_consent(ctx, erasure_requested=argument == "erase")


async def withdraw_consent(ctx: Context, *, erasure_requested: bool) -> None:
    """Record the withdrawal, stop processing, tell the mentor and coordinators, confirm to the person."""
    person = ctx.person
    was_consented = person.consent_given is True
    if was_consented:
        record_consent(ctx.session, person, given=False, action=WITHDRAWN, channel=ctx.inbound.address.channel.value,
                       now=ctx.now)
        ctx.out.extend(await stop_serving(ctx.session, person, STOPPED_BY_WITHDRAWAL, ctx.now, ctx.config,
                                          actor_id=person.id))
        mentor = await ctx.session.get(Person, person.mentor_id) if person.mentor_id else None
        if person.role == Role.PESERTA and mentor is not None and mentor.is_active:
            ctx.tell(mentor, "pdp.told_mentor", name=person.name)
    for coordinator in await active_people(ctx.session, Role.KOORDINATOR, besides=person.id):
        if erasure_requested:
            ctx.tell(coordinator, "pdp.told_erasure_request", name=person.name, phone=person.phone)
        elif was_consented:
            ctx.tell(coordinator, "pdp.told_coordinator", name=person.name, phone=person.phone)
    ctx.reply("pdp.erasure_requested" if erasure_requested else "pdp.withdrawn",
              contact=ctx.config.coordinator_contact)


@command("data", args=OWN_DATA, roles=EVERYONE, help_key="pdp.help_data", order=95)
async def send_own_data(ctx: Context) -> None:
    """`data saya`: the person's own data as a file."""
    attachment = await export_file(ctx.session, ctx.person, ctx.now, ctx.config)
    hours = ctx.config.rules(PrivacyRules).export_link_hours
    ctx.send(Outgoing(text=t("pdp.export_ready", ctx.lang, hours=hours), to=ctx.inbound.address,
                      person_id=ctx.person.id, attachments=(attachment,)))
