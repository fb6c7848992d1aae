"""What every feature needs besides the database and the clock, plus each feature's rules (bot/ builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

R = TypeVar("R")


@dataclass(frozen=True)
class Config:
    """Programme-wide values; the rules of a feature are read with `config.rules(ConsultationRules)`."""

    # Programme time zone: every local date, clock and deadline is in it.
    timezone: ZoneInfo = ZoneInfo("Asia/Jakarta")  # noqa: RUF009  (immutable)
    # Language of texts for people who have not chosen one (id or en).
    language: str = "id"
    # Name the bot uses for the programme in its texts.
    programme_name: str = "Klinik Bisnis"
    # Who unknown numbers and people without a mentor or consent are told to contact.
    coordinator_contact: str = "koordinator program di Dinas"
    # Longest question accepted, in characters.
    max_question_chars: int = 4000
    # A form left idle this long lets go: the next message is handled normally, the form waits for `lanjut`.
    form_idle_minutes: int = 30
    # Longest message part per channel; longer texts are split at paragraph, line or word boundaries.
    telegram_text_limit: int = 4096
    whatsapp_text_limit: int = 1600
    # Where generated files (digest chart and workbook) are kept, and how many days their links live.
    media_dir: str = "data/media"
    media_ttl_days: int = 7
    # One frozen dataclass per rules.py (SharedRules, ConsultationRules, …); a group not given has its defaults.
    rule_groups: tuple[object, ...] = ()
    _by_kind: dict[type[Any], object] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for group in self.rule_groups:
            if type(group) in self._by_kind:
                raise ValueError(f"two {type(group).__name__} in rule_groups")
            self._by_kind[type(group)] = group

    def rules(self, kind: type[R]) -> R:
        """The rules of one group: as given in rule_groups, else the defaults of its class."""
        group = self._by_kind.get(kind)
        if group is None:
            group = self._by_kind[kind] = kind()
        return cast(R, group)

    def with_rules(self, *groups: object) -> Config:
        """A copy in which these groups replace those of the same class."""
        kinds = {type(group) for group in groups}
        return replace(self, rule_groups=tuple(g for g in self.rule_groups if type(g) not in kinds) + groups)
