"""Who may do what: every role set a command, action or query needs, defined once.

Pick the set that says who: a new mentor command uses `MANAGERS` when coordinators run it too
(sessions, tugas, reports of a group), `STAFF` when experts answer as well (tickets), `MENTORS`
when it is the mentor's alone.
"""

from __future__ import annotations

from storage.models import Person, Role

EVERYONE = frozenset(Role)
PARTICIPANTS = frozenset({Role.PESERTA})  # peserta: business owners in the programme
MENTORS = frozenset({Role.PENDAMPING})  # pendamping: each has a group (kelompok) of participants
EXPERTS = frozenset({Role.NARASUMBER})  # narasumber: receive escalated questions of their field
COORDINATORS = frozenset({Role.KOORDINATOR})  # koordinator: Dinas staff, see the whole programme
STAFF = MENTORS | EXPERTS | COORDINATORS  # everyone who answers questions
MANAGERS = MENTORS | COORDINATORS  # everyone who runs sessions, tugas and reports for a group


def is_participant(person: Person) -> bool:
    """True for a peserta."""
    return person.role == Role.PESERTA


def is_coordinator(person: Person) -> bool:
    """True for a koordinator."""
    return person.role == Role.KOORDINATOR
