"""Which actions an actor may take on a case now, decided by the domain's own rules.

:func:`available_actions` does not restate any rule. For every manual action of the catalogue it
builds a *probe*: a plausible, valid command of that action for the actor (the case's own street as
the target, an insisting review, a one-day extension, …), runs it through
:func:`workflows.domain.decide.decide` and reads the answer:

* accepted: the action is available;
* refused by a *form rule* (:data:`FORM_RULES`): still available. These rules judge only what the
  person types into the form (which unit, which decision, which case id, which closure type), so
  another form would be accepted; the form itself reports the refusal when it is sent;
* refused by any other rule (role, jurisdiction, status, the case's state, time): not available.

Probes are built from the command class's fields (:func:`probe_command`), so a new action needs no
code here unless a generic value cannot satisfy the state; such per-action values live in
:data:`PROBE_VALUES`. For ``report_in`` and ``complete_task`` the probe carries the actor, so the
department that matters is the actor's own (``decide`` checks that it was summoned).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError

from events.base import Actor, CaseEventBase, UnitKind, UnitRef
from events.schemas import Location, ReviewDecision, Urgency
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, Catalogue
from workflows.domain.decide import catch_up, decide, role_refusal
from workflows.domain.errors import DomainError
from workflows.domain.state import CaseState

FORM_RULES: Mapping[str, str] = {
    "dispatch.target": "the unit typed into 'unit' (or 'redispatch_to') is the hotline: pick a grid, street or "
    "department",
    "dispatch.outside_territory": "the grid or street typed in is not the case's own: pick the case's grid or street",
    "review.target_missing": "'redispatch' chosen without a unit in 'redispatch_to': fill it in, or insist",
    "review.same_unit": "the re-dispatch unit typed in is the one that returned the case: pick another, or insist",
    "review.insist_target": "'insist' chosen with another unit in 'redispatch_to': leave it empty",
    "merge.self": "the case id typed into 'into_case_id' is this case: type the case it duplicates",
    "merge.duplicate": "the case id typed into 'duplicate_case_id' is this case or already attached: type another",
    "registry.unknown_unit": "a department typed in is not one of the city's: pick one from the registry",
    "callback.resident_rating": "'unreachable' chosen by the resident rating online: pick satisfied, basically "
    "satisfied or unsatisfied",
    "close.overdue": "'normal' chosen as closure type on a breached case: leave it empty (overdue) or pick another",
    "assign.outside_unit": "the member picked in 'handler' belongs to another unit: pick a member of the case's unit",
    "registry.unknown_section": "the section typed into 'section_id' is not one of the unit's: pick one from the "
    "registry",
    "reassign.same": "the handler and section picked are the case's own: pick another member or section",
    "reclassify.same": "the category picked in 'category' is the case's own: pick the category it should have",
    "registry.unknown_category": "the category typed into 'category' is not one of the city catalogue's: pick one",
    "set_urgency.same": "the urgency picked in 'urgency' is the case's own: pick the other one",
    "relocate.same": "the place given in 'location' is the case's own: give the place it should have",
    "delegate.target": "the unit picked in 'unit' is not a property company: pick one serving the case's community",
    "delegate.outside_service_area": "the property company picked in 'unit' does not serve the case's community: "
    "pick one that does",
    "whistle.outside_service_area": "a property company picked in 'tasks' does not serve the case's community: pick "
    "one that does",
    "volunteers.outside_service_area": "the volunteer team picked in 'team_id' does not serve the case's community: "
    "pick one that does",
    "relocate.volunteers_open": "the place given in 'location' is in another grid while the grid's volunteer call is "
    "open: a place in the same grid is accepted",
    "relocate.whistle_open": "the place given in 'location' is in another street while the street's whistle round "
    "is open: a place in the same street is accepted",
}
"""Rules that judge only the values typed into an action's form, each with why.

A refusal by one of these says the form was filled in wrongly, not that the action is closed to
the actor: the same actor on the same case at the same time would be accepted with another value
of the same field. Every other rule (``role.*``, ``jurisdiction.*``, ``status.*``, and rules on the
case's state such as ``contact.already`` or ``extension.after_deadline``) depends on who acts, on
the case or on the time, and so makes the action unavailable.
"""


def is_form_rule(rule: str) -> bool:
    """Whether ``rule`` judges only what was typed into the form (see :data:`FORM_RULES`)."""
    return rule in FORM_RULES


class ProbeError(TypeError):
    """No probe command could be built for an action (a field type the builder does not know)."""


# --- verdicts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What ``decide`` answered to one command."""

    command: c.Command
    events: list[CaseEventBase] | None  # when accepted
    error: DomainError | None  # when refused

    @property
    def accepted(self) -> bool:
        return self.error is None

    @property
    def form_only(self) -> bool:
        """Refused, but only by a form rule."""
        return self.error is not None and is_form_rule(self.error.rule)

    @property
    def offered(self) -> bool:
        """Accepted, or refused only for what was typed: the action is open to this actor."""
        return self.error is None or is_form_rule(self.error.rule)

    @property
    def rule(self) -> str | None:
        return self.error.rule if self.error is not None else None


def judge(state: CaseState, command: c.Command, now: datetime) -> Verdict:
    """Run ``command`` through ``decide`` and keep the answer (never raises :class:`DomainError`)."""
    try:
        events = decide(state, command, now)  # type: ignore[arg-type]  # plug-in commands are not in the union
    except DomainError as e:
        return Verdict(command, None, e)
    return Verdict(command, events, None)


# --- probes -------------------------------------------------------------------------------------

ProbeValues = Callable[[CaseState, Actor], dict[str, Any]]


def _other_case_id(state: CaseState) -> str:
    taken = {state.case_id, *state.duplicates}
    n = 1
    while f"{state.case_id}-dup{n}" in taken:
        n += 1
    return f"{state.case_id}-dup{n}"


def _probe_member(state: CaseState) -> c.Member:
    """A member of the case's unit other than its current handler."""
    person = "probe-member" if state.handler_id != "probe-member" else "probe-member-2"
    return c.Member(person_id=person, unit=state.unit)


def _other_category(state: CaseState) -> str:
    known = state.sla.categories if state.sla is not None and state.sla.categories else ("noise", "other")
    return next((k for k in known if k != state.category), f"{state.category}-other")


def _corrected_location(state: CaseState) -> Location:
    """The case's place with its address corrected (the same grid: no recall)."""
    loc = state.location or Location(grid_id="probe", community_id="probe", street_id="probe", district_id="probe")
    return loc.model_copy(update={"address": f"{loc.address or ''}（更正）"})


def _serving_unit(state: CaseState, known: dict[str, tuple[str, ...]] | None) -> str:
    """A unit of ``known`` serving the case's community (the first); ``"probe"`` when none is known."""
    community = state.location.community_id if state.location is not None else ""
    return next((u for u, served in sorted((known or {}).items()) if community in served), "probe")


def _property_of(state: CaseState) -> UnitRef:
    return UnitRef(kind=UnitKind.PROPERTY, id=_serving_unit(state, state.sla.properties if state.sla else None))


def _team_of(state: CaseState) -> str:
    return _serving_unit(state, state.sla.volunteer_teams if state.sla else None)


PROBE_VALUES: dict[str, ProbeValues] = {
    # a property company serving the case's community; a volunteer team serving it
    "delegate": lambda s, a: {"unit": _property_of(s)},
    "call_volunteers": lambda s, a: {"team_id": _team_of(s)},
    # a member of the case's own unit (one of another unit is refused by a form rule, assign.outside_unit)
    "assign": lambda s, a: {"handler": _probe_member(s)},
    "reassign": lambda s, a: {"handler": _probe_member(s)},
    # insisting is the review that needs no other unit (re-dispatch would need a second valid target)
    "review_return": lambda s, a: {"decision": ReviewDecision.INSIST, "redispatch_to": None},
    # the domain picks the closure type (normal, or overdue after a breach)
    "close": lambda s, a: {"closure_type": None},
    "merge": lambda s, a: {"into_case_id": _other_case_id(s)},
    "attach_duplicate": lambda s, a: {"duplicate_case_id": _other_case_id(s)},
    "request_extension": lambda s, a: {"extra": timedelta(days=1)},
    # a correction names a value the case does not have yet
    "reclassify": lambda s, a: {"category": _other_category(s)},
    "set_urgency": lambda s, a: {"urgency": Urgency.ORDINARY if s.urgency == Urgency.URGENT else Urgency.URGENT},
    "relocate": lambda s, a: {"location": _corrected_location(s)},
}
"""Per-action probe values where a generic value cannot satisfy the state. Plug-ins may add theirs."""


@dataclass(frozen=True)
class _Context:
    state: CaseState
    actor: Actor

    def own_unit(self) -> UnitRef:
        """The case's own street: a valid dispatch target for any case with a location."""
        loc = self.state.location
        return UnitRef(kind=UnitKind.STREET, id=loc.street_id if loc is not None else "probe")


def _bound(metadata: list[Any], kind: type, default: Any) -> Any:
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            return m.ge
        if isinstance(m, annotated_types.Gt):
            gt: Any = m.gt
            return gt + 1 if kind is int else gt + 0.5
    return default


def _min_len(metadata: list[Any]) -> int:
    for m in metadata:
        if isinstance(m, annotated_types.MinLen):
            return int(m.min_length)
    return 0


def _max_len(metadata: list[Any]) -> int | None:
    for m in metadata:
        if isinstance(m, annotated_types.MaxLen):
            return int(m.max_length)
    return None


def sample_value(annotation: Any, metadata: list[Any], ctx: _Context) -> Any:
    """A valid value of ``annotation`` (with the field's constraints in ``metadata``) for a probe."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        meta = [*metadata]
        for e in extra:
            meta.extend(getattr(e, "metadata", [e]))
        return sample_value(inner, meta, ctx)
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        if not arms:
            return None
        return sample_value(arms[0], metadata, ctx)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (list, tuple, set, frozenset):
        args = get_args(annotation)
        item = sample_value(args[0], [], ctx) if args else "probe"
        items = [item] * max(_min_len(metadata), 1)
        return items if origin is list else origin(items)
    if annotation is typing.Any:
        return "probe"
    if not isinstance(annotation, type):
        raise ProbeError(f"cannot build a probe value of {annotation!r}")
    if issubclass(annotation, Enum):
        return next(iter(annotation))
    if annotation is bool:
        return True
    if issubclass(annotation, int):
        return _bound(metadata, int, 1)
    if issubclass(annotation, float):
        return float(_bound(metadata, float, 1.0))
    if issubclass(annotation, str):
        n = max(_min_len(metadata), 5)
        most = _max_len(metadata)
        n = min(n, most) if most is not None else n
        return ("probe" * (n // 5 + 1))[:n]
    if annotation is timedelta:
        return timedelta(days=1)
    if annotation is datetime:
        return ctx.state.opened_at or datetime(2026, 1, 1, tzinfo=UTC)
    if annotation is date:
        return date(2026, 1, 1)
    if annotation is Actor:
        return ctx.actor
    if annotation is UnitRef:
        return ctx.own_unit()
    if issubclass(annotation, BaseModel):
        return annotation(**_sample_fields(annotation, {}, ctx))
    raise ProbeError(f"cannot build a probe value of {annotation.__name__}")


def _sample_fields(model: type[BaseModel], given: Mapping[str, Any], ctx: _Context) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in given:
            values[name] = given[name]
        elif info.is_required():
            values[name] = sample_value(info.annotation, list(info.metadata), ctx)
    return values


def probe_command(action: Action, state: CaseState, actor: Actor) -> c.Command:
    """A plausible, valid command of ``action`` for ``actor`` on ``state``.

    Optional fields keep their defaults; required ones get a generic valid value of their type
    (text, the first member of an enumeration, ``True``, one day, the case's own street, one item
    of a list, …); :data:`PROBE_VALUES` overrides per action.

    Raises:
        ProbeError: a field's type has no generic value, or the values built do not validate.
    """
    given = {"actor": actor}
    extra = PROBE_VALUES.get(action.name)
    if extra is not None:
        given.update(extra(state, actor))
    ctx = _Context(state, actor)
    values = _sample_fields(action.command, given, ctx)
    values.pop("type", None)
    try:
        return action.command(**values)
    except ValidationError as e:
        raise ProbeError(f"probe for {action.name!r} does not validate: {e}") from e


# --- the answer ---------------------------------------------------------------------------------


def why_not(state: CaseState, actor: Actor, action: Action, now: datetime) -> DomainError | None:
    """The rule that keeps ``action`` from ``actor`` on ``state`` now; ``None`` when it is available.

    A role the row does not list is answered without building a probe: it is the first check of
    ``decide`` (:func:`~workflows.domain.decide.role_refusal`, rule ``role.not_allowed``).
    """
    if CATALOGUE.by_command.get(action.command) is action:
        refusal = role_refusal(action, actor.role)
        if refusal is not None:
            return refusal
    verdict = judge(state, probe_command(action, state, actor), now)
    return None if verdict.offered else verdict.error


def available_actions(state: CaseState, actor: Actor, now: datetime, catalogue: Catalogue = CATALOGUE) -> list[Action]:
    """The manual actions on an existing case that ``actor`` may take on ``state`` at ``now``.

    In catalogue order; ``open`` and the clock's ``tick`` are never listed. ``decide`` checks
    against the module-level catalogue, so a row present only in another ``catalogue`` is refused
    (``action.unknown``) and not listed.
    """
    current = catch_up(state, now)
    return [a for a in catalogue.after_intake() if why_not(current, actor, a, now) is None]


def offered_verdict(state: CaseState, command: c.Command, now: datetime) -> tuple[bool, Verdict]:
    """The reverse check: is ``command``'s action offered to its actor, and what ``decide`` says to it.

    Tests use it to hold :func:`available_actions` to ``decide``: when the action is offered, the
    verdict must be accepted or form-only; when it is not, it must be refused by a non-form rule.
    """
    action = CATALOGUE.for_command(command)
    offered = action in available_actions(state, command.actor, now)
    return offered, judge(state, command, now)
