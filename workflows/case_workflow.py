"""One durable Temporal workflow per case: a thin shell around the pure domain.

Actor actions arrive as updates (validated by the domain before anything is written to history),
reads are queries, every emitted event is handed in order to the publishing activity, and the SLA
clock is a workflow timer that wakes the domain when the next alarm is due. The whole state is one
serialisable object, carried across continue-as-new.

Publishing path (cases started since the ``local-publish-v1`` patch): the events of an update are
published by a *local* activity that runs inside the same workflow task as the update, so one
action costs one workflow task and no activity round trip through the server. If the local
attempt fails (the broker is down), the case falls back to the regular, durably retried publishing
activity until its backlog is delivered, then returns to local publishing. Either way the
publishing cursor moves only after Kafka acknowledged a batch, batches go out one at a time in
``seq`` order, and a retried batch is re-sent whole (consumers deduplicate on ``case_id:seq``).
The SLA timer is kept across updates and re-armed only when an earlier alarm becomes due (older
cases restarted it on every update); a timer that fires before anything is due just ticks.
Cases started before the patch replay on the old path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair
from temporalio.exceptions import ApplicationError, FailureError

from workflows.search_attributes import (
    SA_BREACHED,
    SA_CATEGORY,
    SA_DISTRICT,
    SA_GRID,
    SA_HANDLER,
    SA_NEXT_DUE,
    SA_STATUS,
    SA_STREET,
    SA_UNITS,
    SA_URGENCY,
)

with workflow.unsafe.imports_passed_through():
    from activities.publishing import PUBLISH_ACTIVITY, PUBLISH_LOCAL_ACTIVITY, PublishBatch
    from activities.sla import SLA_CONTEXT_ACTIVITY
    from events.base import SYSTEM_ACTOR, CaseEventBase
    from events.schemas import CaseEvent
    from workflows.case_models import (
        ActionResult,
        CaseSummary,
        CaseWorkflowInput,
        CaseWorkflowState,
        shared_sla_context,
    )
    from workflows.domain import CaseState, CaseStatus, DomainError, SlaContext, decide, next_alarm_at
    from workflows.domain.commands import AttachDuplicate, CaseCommand, MergeInto, OpenCase, Tick
    from workflows.domain.evolve import apply_event
    from workflows.domain.state import TERMINAL

__all__ = ["ActionResult", "CaseSummary", "CaseWorkflow", "CaseWorkflowInput", "CaseWorkflowState", "workflow_id"]

WORKFLOW_NAME = "CaseWorkflow"
PUBLISH_BATCH_MAX = 100
#: Patch id of the local-activity publishing path and the kept SLA timer (see the module docstring).
PATCH_LOCAL_PUBLISH = "local-publish-v1"
#: Patch id of the work inside the unit that changes the lifecycle of existing actions: internal
#: review before a reply resolves the case, interim replies on long cases, corrections recomputed by
#: the policy's mode. Cases started before it run with ``SlaContext.unit_work`` off for their whole
#: life, so their histories replay unchanged.
PATCH_UNIT_WORK = "unit-work-v1"
#: Patch id of property companies (物业) and volunteer teams as units: a street or community passes a
#: case down to a property company, a whistle summons one, a grid calls a volunteer team in. Cases
#: started before it keep the units they started with: their SLA context lists no property company
#: and no volunteer team, so none of these steps is open to them.
PATCH_UNIT_KINDS = "unit-kinds-v1"
_PUBLISH_TIMEOUT = timedelta(seconds=30)  # above the Kafka sink's own bounded waits
# The local attempt runs inside the workflow task, so updates wait for it: when the broker has just
# gone away, give up after this long and hand the batch to the retried activity, instead of holding
# every reply for the sink's own timeout. (The sink's flush may still deliver the batch afterwards:
# a duplicate with the same event id, which consumers drop.)
_LOCAL_PUBLISH_TIMEOUT = timedelta(seconds=2)
_PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=15)
)


def workflow_id(case_id: str) -> str:
    return f"case-{case_id}"


def _rejection(err: DomainError) -> ApplicationError:
    return ApplicationError(err.message, err.rule, type="DomainError", non_retryable=True)


@workflow.defn(name=WORKFLOW_NAME)
class CaseWorkflow:
    @workflow.init
    def __init__(self, input: CaseWorkflowInput) -> None:
        self._s = input.carried or CaseWorkflowState(case=CaseState(case_id=input.case_id, sla=input.sla))
        if self._s.case.sla is not None:
            self._s.case.sla = shared_sla_context(self._s.case.sla)
        self._ready = self._s.case.sla is not None
        self._changed = False
        self._published_sa: dict[str, object] = {}
        self._unit_work_gated = False
        # what the update validator decided, reused by the handler when nothing changed in between
        self._decided: tuple[object, int, datetime, list[CaseEventBase]] | None = None

    # --- run ----------------------------------------------------------------------------------
    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseSummary:
        if workflow.patched(PATCH_LOCAL_PUBLISH):
            return await self._run_current()
        return await self._run_legacy()

    async def _run_legacy(self) -> CaseSummary:
        """The main loop of cases started before ``local-publish-v1``, kept only for their replay.

        Retired with the patch (docs/operations.md, "Retiring the legacy workflow path"): activity
        publishing, SLA timer restarted on every update.
        """
        if self._s.case.sla is None:
            ctx = await workflow.execute_local_activity(
                SLA_CONTEXT_ACTIVITY,
                result_type=SlaContext,
                start_to_close_timeout=timedelta(seconds=30),
            )
            self._s.case = self._s.case.model_copy(update={"sla": ctx})
            self._ready = True
        self._gate_unit_work(legacy=True)
        publisher = asyncio.create_task(self._publish_loop_legacy())
        while True:
            case = self._s.case
            if case.status in TERMINAL and case.status != CaseStatus.NEW:
                break
            wake = next_alarm_at(case)
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            except TimeoutError:
                self._apply_command(Tick(actor=SYSTEM_ACTOR))
            self._changed = False
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self._s.published == len(self._s.timeline)
                )
                publisher.cancel()
                workflow.continue_as_new(CaseWorkflowInput(case_id=self._s.case.case_id, carried=self._s))
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and self._s.published == len(self._s.timeline)
        )
        publisher.cancel()
        case = self._s.case
        return CaseSummary(case_id=case.case_id, status=case.status, events=case.seq, closed_at=case.closed_at)

    async def _load_sla_context(self) -> None:
        if self._s.case.sla is None:
            ctx = await workflow.execute_local_activity(
                SLA_CONTEXT_ACTIVITY,
                result_type=SlaContext,
                start_to_close_timeout=timedelta(seconds=30),
            )
            self._s.case = self._s.case.model_copy(update={"sla": shared_sla_context(ctx)})
        self._gate_unit_work()
        self._ready = True

    def _gate_unit_work(self, *, legacy: bool = False) -> None:
        """Turn the work inside the unit off for a case started before ``unit-work-v1``, and the property
        companies and volunteer teams for one started before ``unit-kinds-v1`` (once per run).

        Called from the run and from handlers, never from a validator (``patched`` records a marker).
        """
        if self._unit_work_gated:
            return
        sla = self._s.case.sla
        if sla is None:
            return
        self._unit_work_gated = True
        if sla.unit_work and (legacy or not workflow.patched(PATCH_UNIT_WORK)):
            sla = sla.model_copy(update={"unit_work": False})
            self._s.case.sla = shared_sla_context(sla)
            self._decided = None  # decided on the context before the gate
        if legacy or not workflow.patched(PATCH_UNIT_KINDS):
            self._s.case.sla = shared_sla_context(sla.model_copy(update={"properties": {}, "volunteer_teams": {}}))
            self._decided = None

    def _all_published(self) -> bool:
        return self._s.published == len(self._s.timeline)

    async def _run_current(self) -> CaseSummary:
        """The main loop of every case started since ``local-publish-v1``.

        Local publishing (the retried activity only while the broker is away), SLA timer kept while unchanged.
        """
        await self._load_sla_context()
        publisher = asyncio.create_task(self._publish_loop_current())
        timer: asyncio.Task[None] | None = None
        timer_at: datetime | None = None
        while True:
            case = self._s.case
            if case.status in TERMINAL and case.status != CaseStatus.NEW:
                break
            wake = next_alarm_at(case)
            now = workflow.now()
            due = wake is not None and wake <= now
            if not due:
                # re-arm only for an earlier alarm: a timer that fires early just ticks (nothing is due yet)
                if wake is not None and (timer is None or timer_at is None or wake < timer_at):
                    if timer is not None:
                        timer.cancel()
                    timer, timer_at = asyncio.create_task(workflow.sleep(wake - now)), wake
                await workflow.wait_condition(self._woken_by(timer))
                due = not self._changed and timer is not None and timer.done()
            if due:
                if timer is not None and timer.done():
                    timer, timer_at = None, None
                self._apply_command(Tick(actor=SYSTEM_ACTOR))
            self._changed = False
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._all_published())
                publisher.cancel()
                workflow.continue_as_new(CaseWorkflowInput(case_id=self._s.case.case_id, carried=self._s))
        if timer is not None:
            timer.cancel()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._all_published())
        publisher.cancel()
        case = self._s.case
        return CaseSummary(case_id=case.case_id, status=case.status, events=case.seq, closed_at=case.closed_at)

    def _woken_by(self, timer: asyncio.Task[None] | None) -> Callable[[], bool]:
        return lambda: self._changed or (timer is not None and timer.done())

    async def _publish_loop_current(self) -> None:
        """Publish in order: a local activity first; after a failed one, the retried activity until caught up."""
        local = True
        while True:
            await workflow.wait_condition(lambda: not self._all_published())
            start = self._s.published
            batch = PublishBatch(
                case_id=self._s.case.case_id, events=self._s.timeline[start : start + PUBLISH_BATCH_MAX]
            )
            if local:
                try:
                    await workflow.execute_local_activity(
                        PUBLISH_LOCAL_ACTIVITY,
                        batch,
                        start_to_close_timeout=_LOCAL_PUBLISH_TIMEOUT,
                        retry_policy=RetryPolicy(maximum_attempts=1),
                    )
                except FailureError:  # failed, refused or timed out (surfaces unwrapped for local activities)
                    local = False
                else:
                    self._s.published = start + len(batch.events)
                    continue
            await workflow.execute_activity(
                PUBLISH_ACTIVITY, batch, start_to_close_timeout=_PUBLISH_TIMEOUT, retry_policy=_PUBLISH_RETRY
            )
            self._s.published = start + len(batch.events)
            local = self._all_published()  # caught up: back to the local path

    async def _publish_loop_legacy(self) -> None:
        """Publish in order through the retried activity only (cases started before ``local-publish-v1``)."""
        while True:
            await workflow.wait_condition(lambda: self._s.published < len(self._s.timeline))
            start = self._s.published
            batch = self._s.timeline[start : start + PUBLISH_BATCH_MAX]
            await workflow.execute_activity(
                PUBLISH_ACTIVITY,
                PublishBatch(case_id=self._s.case.case_id, events=batch),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=500),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=15),
                ),
            )
            self._s.published = start + len(batch)

    # --- domain application -------------------------------------------------------------------
    def _decide(self, command: CaseCommand) -> list[CaseEventBase]:
        """``decide`` on the current state; the validator's answer is reused for the same command and state."""
        now = workflow.now()
        cached = self._decided
        self._decided = None
        if cached is not None and cached[1] == self._s.case.seq and cached[2] == now and cached[0] == command:
            return cached[3]
        return decide(self._s.case, command, now)

    def _apply_command(self, command: CaseCommand) -> list[CaseEventBase]:
        self._gate_unit_work()
        events = self._decide(command)
        if not events:
            return events
        case = self._s.case
        for event in events:
            apply_event(case, event)
        self._s.timeline.extend(events)  # type: ignore[arg-type]
        self._changed = True
        self._upsert_search_attributes()
        return events

    def _upsert_search_attributes(self) -> None:
        case = self._s.case
        loc = case.location
        running = case.running_clocks()
        next_due = min((c.due_at for c in running if c.paused_at is None), default=None)
        wanted: dict[str, object] = {
            "status": case.status.value,
            "category": case.category,
            "urgency": case.urgency.value,
            "district": loc.district_id if loc else "",
            "street": loc.street_id if loc else "",
            "grid": loc.grid_id if loc else "",
            "units": list(case.units_involved),
            "next_due": next_due,
            "breached": case.breached,
            "handler": case.handler_id,
        }
        if wanted == self._published_sa:
            return
        self._published_sa = wanted
        pairs: list[SearchAttributePair] = [
            SearchAttributePair(SA_STATUS, case.status.value),
            SearchAttributePair(SA_CATEGORY, case.category),
            SearchAttributePair(SA_URGENCY, case.urgency.value),
            SearchAttributePair(SA_BREACHED, case.breached),
            SearchAttributePair(SA_UNITS, list(case.units_involved)),
        ]
        if loc is not None:
            pairs += [
                SearchAttributePair(SA_DISTRICT, loc.district_id),
                SearchAttributePair(SA_STREET, loc.street_id),
                SearchAttributePair(SA_GRID, loc.grid_id),
            ]
        updates = [p.key.value_set(p.value) for p in pairs]
        updates.append(SA_NEXT_DUE.value_set(next_due) if next_due else SA_NEXT_DUE.value_unset())
        # the handler only once a case has had one: a case that never did upserts exactly what
        # cases did before handlers existed, so their histories replay unchanged
        if case.handler_id is not None:
            updates.append(SA_HANDLER.value_set(case.handler_id))
        elif case.assign_count:
            updates.append(SA_HANDLER.value_unset())
        workflow.upsert_search_attributes(updates)

    def _result(self, events: list[CaseEventBase]) -> ActionResult:
        case = self._s.case
        return ActionResult(case_id=case.case_id, status=case.status, seq=case.seq, events=[e.event_id for e in events])

    # --- updates ------------------------------------------------------------------------------
    @workflow.update(name="open")
    async def open(self, command: OpenCase) -> ActionResult:
        """Intake (受理). Idempotent: a retried intake with the same key returns the first result."""
        await workflow.wait_condition(lambda: self._ready)
        case = self._s.case
        if case.status != CaseStatus.NEW:
            if command.idempotency_key and command.idempotency_key == case.idempotency_key:
                return ActionResult(
                    case_id=case.case_id, status=case.status, seq=case.seq, events=list(self._s.opened_events)
                )
            raise _rejection(DomainError("case.already_open", f"case {case.case_id} is already open"))
        if command.case_id != case.case_id:
            raise ApplicationError(
                f"case_id {command.case_id!r} does not match workflow case {case.case_id!r}",
                type="InvalidCommand",
                non_retryable=True,
            )
        try:
            events = self._apply_command(command)
        except DomainError as err:
            raise _rejection(err) from None
        self._s.opened_events = [e.event_id for e in events]
        return self._result(events)

    @open.validator
    def _validate_open(self, command: OpenCase) -> None:
        if command.case_id != self._s.case.case_id:
            raise ApplicationError(f"case_id {command.case_id!r} does not match this case", type="InvalidCommand")
        if self._s.case.status != CaseStatus.NEW and (
            not command.idempotency_key or command.idempotency_key != self._s.case.idempotency_key
        ):
            raise _rejection(DomainError("case.already_open", f"case {command.case_id} is already open"))

    @workflow.update(name="act")
    async def act(self, command: CaseCommand) -> ActionResult:
        """Every actor action after intake (dispatch, accept, whistle, resolve, callback...)."""
        await workflow.wait_condition(lambda: self._ready)
        try:
            events = self._apply_command(command)
        except DomainError as err:
            raise _rejection(err) from None
        if isinstance(command, MergeInto):
            await self._notify_merge_target(command.into_case_id)
        return self._result(events)

    @act.validator
    def _validate_act(self, command: CaseCommand) -> None:
        if isinstance(command, OpenCase):
            raise ApplicationError("use the 'open' update for intake", type="InvalidCommand")
        if isinstance(command, Tick):
            raise ApplicationError("the SLA clock ticks by itself", type="InvalidCommand")
        if self._s.case.status == CaseStatus.NEW:
            raise _rejection(DomainError("case.not_open", "the case has not been opened yet"))
        try:
            events = decide(self._s.case, command, workflow.now())
        except DomainError as err:
            raise _rejection(err) from None
        self._decided = (command, self._s.case.seq, workflow.now(), events)

    async def _notify_merge_target(self, into_case_id: str) -> None:
        handle = workflow.get_external_workflow_handle(workflow_id(into_case_id))
        try:
            await handle.signal(CaseWorkflow.duplicate_merged, self._s.case.case_id)
        except Exception:  # the target may be closed: the merge itself stands
            workflow.logger.warning("could not notify case %s of a merged duplicate", into_case_id)

    @workflow.signal(name="duplicate_merged")
    def duplicate_merged(self, duplicate_case_id: str) -> None:
        try:
            self._apply_command(AttachDuplicate(actor=SYSTEM_ACTOR, duplicate_case_id=duplicate_case_id))
        except DomainError as err:
            workflow.logger.warning("duplicate %s not attached: %s", duplicate_case_id, err)

    # --- queries ------------------------------------------------------------------------------
    @workflow.query(name="state")
    def state(self) -> CaseState:
        return self._s.case

    @workflow.query(name="timeline")
    def timeline(self) -> list[CaseEvent]:
        return self._s.timeline

    def _check_read(self, actor: dict) -> None:
        """The domain's read jurisdiction for ``actor`` (an ``events.base.Actor`` as JSON).

        A refusal fails the query with the message ``[rule] why``.
        """
        with workflow.unsafe.imports_passed_through():
            from events.base import Actor
            from workflows.domain.access import check_read
        try:
            check_read(self._s.case, Actor.model_validate(actor))
        except DomainError as err:
            raise ApplicationError(str(err), err.rule, type="DomainError", non_retryable=True) from None

    @workflow.query(name="view")
    def view(self, actor: dict) -> CaseState:
        """The case as ``state`` returns it, for an actor within its read jurisdiction."""
        self._check_read(actor)
        return self._s.case

    @workflow.query(name="view_timeline")
    def view_timeline(self, actor: dict) -> list[CaseEvent]:
        """The timeline as ``timeline`` returns it, for an actor within its read jurisdiction."""
        self._check_read(actor)
        return self._s.timeline

    @workflow.query(name="publishing")
    def publishing(self) -> dict[str, int]:
        return {"events": len(self._s.timeline), "published": self._s.published}
