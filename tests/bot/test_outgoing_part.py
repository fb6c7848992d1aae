"""The outbox's message value: a round trip through JSON, and rows written before it existed."""

from datetime import UTC, datetime

from handlers.kernel.messages import Attachment, Button, Channel, OutgoingPart
from handlers.kernel.outbox import message_of, store_message
from storage.models import OutboxMessage

CLOSED = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def row_with(payload: dict[str, object]) -> OutboxMessage:
    return OutboxMessage(channel="whatsapp", address="+6281200000001", payload=payload)


def test_a_part_survives_the_outbox_column() -> None:
    part = OutgoingPart(text="Pilih:", part=2, parts=2, buttons=(Button("Jawab", "ans:1"),),
                        attachments=(Attachment("photo", "file-1", Channel.TELEGRAM, "image/jpeg", "a.jpg", 12),),
                        request_contact=True, template="nudge", template_vars={"1": "Sari"},
                        window_closed_at=CLOSED)
    row = row_with({})

    store_message(row, part)

    assert message_of(row) == part


def test_rows_written_before_the_typed_value_still_read() -> None:
    earlier = row_with({"text": "Bagian pertama", "part": 1, "parts": 2})
    last = row_with({"text": "Bagian kedua", "part": 2, "parts": 2,
                     "buttons": [{"label": "Tutup", "payload": "close:1"}],
                     "attachments": [{"kind": "document", "ref": "media:abc", "channel": "whatsapp",
                                      "mime": "application/pdf", "name": "a.pdf", "size": None}],
                     "request_contact": False, "template": None, "template_vars": {},
                     "window_closed_at": CLOSED.isoformat()})

    assert message_of(earlier) == OutgoingPart(text="Bagian pertama", part=1, parts=2)
    assert message_of(last) == OutgoingPart(
        text="Bagian kedua", part=2, parts=2, buttons=(Button("Tutup", "close:1"),),
        attachments=(Attachment("document", "media:abc", Channel.WHATSAPP, "application/pdf", "a.pdf"),),
        window_closed_at=CLOSED)
