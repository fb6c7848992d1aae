"""Nothing typed is dropped: forms and drafts left aside are parked, offered back once, resumed with `lanjut`."""

from __future__ import annotations

from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import command, traits_of
from handlers.kernel.roles import EVERYONE
from handlers.kernel.state import get_state, parked_flows, resume_parked
from storage.models import ParkedFlow

DRAFT_FLOW = "ask"  # the consultation desk's drafted question; its offer is registered with that flow


def keep_as_draft(ctx: Context, *, offered: bool = False) -> ParkedFlow:
    """Keep this message as a draft question that is sent only when the person says so."""
    data = {"text": ctx.text, "attachments": [a.to_json() for a in ctx.inbound.attachments], "ask_first": True}
    parked = ParkedFlow(person_id=ctx.person.id, flow=DRAFT_FLOW, data=data, parked_at=ctx.now,
                        offered_at=ctx.now if offered else None)
    ctx.session.add(parked)
    return parked


async def keep_offered_draft(ctx: Context) -> ParkedFlow:
    """Keep this message as a draft question offered now, with its id (for the buttons that send or drop it)."""
    draft = keep_as_draft(ctx, offered=True)
    await ctx.session.flush()
    return draft


def draft_button(ctx: Context, key: str, draft: ParkedFlow, verb: str = "send") -> Button:
    """The button that sends the kept draft to the mentor (or drops it): the consultation desk's `draft` action."""
    return Button(t(key, ctx.lang), f"draft:{verb}:{draft.id}")



async def offer_parked(ctx: Context) -> None:
    """Once no flow is open, tell the person (once each) what waits for them."""
    if await get_state(ctx.session, ctx.person.id) is not None:
        return
    for parked in await parked_flows(ctx.session, ctx.person.id):
        if parked.offered_at is None:
            await offer_once(ctx, parked)


async def offer_once(ctx: Context, parked: ParkedFlow) -> None:
    """Tell the person that this parked flow waits: its own offer, or its name and `lanjut`."""
    parked.offered_at = ctx.now
    offer = traits_of(parked.flow).offer
    if offer is not None:
        await offer(ctx, parked)
    else:
        ctx.reply("core.parked_form", form=t(traits_of(parked.flow).label_key, ctx.lang))


@command("lanjut", roles=EVERYONE, help_key="core.help_lanjut", order=2, in_flows=False)
async def resume_form(ctx: Context) -> None:
    """Bring back the form the person left, where it stopped."""
    waiting = [p for p in await parked_flows(ctx.session, ctx.person.id) if p.flow != DRAFT_FLOW]
    if not waiting:
        drafts = await parked_flows(ctx.session, ctx.person.id)
        if drafts and (offer := traits_of(drafts[0].flow).offer) is not None:
            await offer(ctx, drafts[0])
            return
        ctx.reply("core.nothing_parked")
        return
    parked = waiting[0]
    await resume_parked(ctx.session, parked, ctx.now)
    resume = traits_of(parked.flow).resume
    if resume is not None:
        await resume(ctx)
    else:
        ctx.reply("core.form_resumed", form=t(traits_of(parked.flow).label_key, ctx.lang))


async def take_draft(ctx: Context, number: str) -> ParkedFlow | None:
    """The person's own kept draft with that id, removed from the parked list (None if not theirs)."""
    parked = await ctx.session.get(ParkedFlow, parked_id) if (parked_id := record_id(number)) is not None else None
    if parked is None or parked.person_id != ctx.person.id or parked.flow != DRAFT_FLOW:
        return None
    await ctx.session.delete(parked)
    await ctx.session.flush()
    return parked
