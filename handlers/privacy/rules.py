"""How long personal data is kept, and the `data saya` export (KLINIK_RULES__PRIVACY__*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class PrivacyRules:
    """Retention periods of the daily clean-up and the lifetime of a person's own data export."""

    # Days after which a handled inbound message's raw content (text, name, media links) is redacted.
    inbox_retention_days: int = 30
    # Days after which the text of a sent or failed outgoing message is redacted (queued and held ones never).
    outbox_retention_days: int = 90
    # Days after which generated files (digests, `data saya` exports) and their download links are deleted.
    media_retention_days: int = 30
    # Days after which the record of an unregistered number (name, last text) is deleted.
    unknown_contact_retention_days: int = 90
    # Hours during which a `data saya` export can be downloaded.
    export_link_hours: int = 24
    # Time of the daily clean-up (programme time zone).
    retention_time: time = time(2)
