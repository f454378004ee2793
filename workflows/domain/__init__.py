"""The case domain: pure, deterministic rules of the governance chain.

``decide(state, command, now) -> events`` and ``evolve(state, event) -> state``; no Temporal,
Kafka or SQL imports. Time and ids come in as parameters.
"""

from workflows.domain.available import available_actions
from workflows.domain.commands import CaseCommand, Command
from workflows.domain.decide import decide, next_alarm_at
from workflows.domain.errors import DomainError
from workflows.domain.evolve import evolve, evolve_all
from workflows.domain.state import CaseState, CaseStatus, SlaContext

__all__ = [
    "CaseCommand",
    "CaseState",
    "CaseStatus",
    "Command",
    "DomainError",
    "SlaContext",
    "available_actions",
    "decide",
    "evolve",
    "evolve_all",
    "next_alarm_at",
]
