"""A thin client for case workflows, shared by the CLI, the API and the tests.

Intake uses update-with-start, so a retried intake (same idempotency key) reaches the same
workflow and the same update id, and never opens a second case.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Container, Mapping, Sequence
from enum import Enum
from types import NoneType, UnionType
from typing import Union, get_args, get_origin

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from events.base import Actor
from events.schemas import CaseEvent
from workflows.case_workflow import ActionResult, CaseWorkflow, CaseWorkflowInput, workflow_id
from workflows.domain.actions import Action, Widget
from workflows.domain.commands import CaseCommand, OpenCase
from workflows.domain.registry import CityRegistry, RegistryError
from workflows.domain.state import TERMINAL, CaseState, CaseStatus

#: A case named in a command (``into_case_id``, ``duplicate_case_id``) that does not exist.
UNKNOWN_SECTION = "registry.unknown_section"
UNKNOWN_CASE = "case.unknown_reference"
#: A merge into a case that is finished: the report would go into a case nobody works on.
FINISHED_TARGET = "case.reference_finished"
#: A category the city catalogue does not have (``reclassify``'s ``category``).
UNKNOWN_CATEGORY = "registry.unknown_category"


def _enumerated(annotation: object) -> bool:
    """Whether ``annotation`` (or the one type of an optional) enumerates its values."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        annotation = args[0] if len(args) == 1 else annotation
    return isinstance(annotation, type) and issubclass(annotation, Enum)


def category_fields(action: Action) -> list[str]:
    """The fields of ``action`` that name a category of the city catalogue: its choices (widget
    ``choice``) whose type enumerates no values, the registry listing them (``reclassify``'s
    ``category``)."""
    model = action.command.model_fields
    return [
        f.name
        for f in action.fields
        if f.widget == Widget.CHOICE and f.name in model and not _enumerated(model[f.name].annotation)
    ]


class RegistryCategories:
    """The category codes of a city registry as a container (``code in categories``)."""

    def __init__(self, registry: CityRegistry) -> None:
        self.registry = registry

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        try:
            self.registry.category(code)
        except RegistryError:
            return False
        return True


def category_problems(action: Action, command: object, categories: Container[str]) -> list[tuple[str, str, str]]:
    """``(field, rule, message)`` for each category the command names (:func:`category_fields`) that
    ``categories`` (the city catalogue's codes) lacks: rule ``registry.unknown_category``."""
    problems: list[tuple[str, str, str]] = []
    for name in category_fields(action):
        code = getattr(command, name, None)
        if isinstance(code, str) and code not in categories:
            message = f"the city catalogue has no category {code!r} (see GET /registry/categories)"
            problems.append((name, UNKNOWN_CATEGORY, message))
    return problems


class ActionRefused(Exception):
    """The case refused an action: ``rule`` names the domain rule, ``message`` says why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule
        self.message = message


def case_id_for_key(idempotency_key: str) -> str:
    """A stable case id derived from an intake idempotency key."""
    return "C" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12].upper()


def new_case_id() -> str:
    return "C" + uuid.uuid4().hex[:12].upper()


def _refusal(err: WorkflowUpdateFailedError) -> ActionRefused:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        rule = str(cause.details[0]) if cause.details else (cause.type or "refused")
        return ActionRefused(rule, cause.message)
    return ActionRefused("refused", str(cause or err))


FINISHED_RULE = "case.finished"


def finished_refusal(case_id: str, action: str, state: CaseState | None) -> ActionRefused:
    """``ActionRefused("case.finished", ...)``: the message says how the case ended."""
    if state is None:
        how = "finished"
    elif state.terminated:
        how = f"{state.status.value} (terminated)"
    elif state.merged_into:
        how = f"{state.status.value} into {state.merged_into}"
    else:
        how = state.status.value
    return ActionRefused(FINISHED_RULE, f"case {case_id} is {how}: '{action}' cannot change it any more")


_COMPLETED = ("already completed", "closing workflow")


def _completed(err: RPCError) -> bool:
    """Whether Temporal refused an update because the workflow execution has completed, or was
    completing while the update waited (the update was then not applied)."""
    return err.status == RPCStatusCode.NOT_FOUND and any(text in err.message for text in _COMPLETED)


_QUERY_REFUSAL = re.compile(r"\[(?P<rule>[a-z_][a-z0-9_.]*)\] (?P<message>.*)", re.DOTALL)


def _query_refusal(err: WorkflowQueryFailedError) -> ActionRefused:
    """A refused query (its message is ``[rule] why``) as :class:`ActionRefused`."""
    match = _QUERY_REFUSAL.search(err.message)
    if match is None:
        return ActionRefused("query.failed", err.message)
    return ActionRefused(match["rule"], match["message"])


class CaseClient:
    """Opens cases and sends actions to them."""

    def __init__(self, client: Client, task_queue: str, *, update_with_start: bool = True) -> None:
        """Args:
        client: a Temporal client with the pydantic data converter.
        task_queue: the case worker's task queue.
        update_with_start: open cases with one atomic update-with-start call (the default). When
            ``False`` (servers without multi-operation support, such as the time-skipping test
            server), intake starts the workflow with the USE_EXISTING conflict policy and then
            sends the same update with the same id: two calls, equally idempotent.
        """
        self.client = client
        self.task_queue = task_queue
        self.update_with_start = update_with_start

    async def open(self, command: OpenCase) -> ActionResult:
        """Open a case (update-with-start). Idempotent on ``command.idempotency_key``."""
        op = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseWorkflowInput(case_id=command.case_id),
            id=workflow_id(command.case_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        update_id = f"open-{command.idempotency_key or command.case_id}"
        try:
            if self.update_with_start:
                return await self.client.execute_update_with_start_workflow(
                    CaseWorkflow.open,  # type: ignore[arg-type]
                    command,
                    start_workflow_operation=op,
                    id=update_id,
                )
            handle = await self.client.start_workflow(
                CaseWorkflow.run,
                CaseWorkflowInput(case_id=command.case_id),
                id=workflow_id(command.case_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return await handle.execute_update(CaseWorkflow.open, command, id=update_id)  # type: ignore[arg-type]
        except WorkflowUpdateFailedError as err:
            raise _refusal(err) from None

    async def act(self, case_id: str, command: CaseCommand, request_id: str | None = None) -> ActionResult:
        """Send one actor action; ``request_id`` makes a retried call apply once.

        Raises:
            ActionRefused: the case refused it (the domain's rule), or the case is finished (rule
                ``case.finished``: closed, rejected or merged, its workflow completed), e.g. a
                second ``close`` after the first one ended the case.
        """
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
        update_id = f"{command.type}-{request_id or uuid.uuid4().hex}"
        try:
            return await handle.execute_update(CaseWorkflow.act, command, id=update_id)  # type: ignore[arg-type]
        except WorkflowUpdateFailedError as err:
            raise _refusal(err) from None
        except RPCError as err:
            if not _completed(err):
                raise
            raise await self._finished(case_id, command) from None

    async def _finished(self, case_id: str, command: CaseCommand) -> ActionRefused:
        """The refusal of an action sent to a case whose workflow has completed."""
        try:
            state: CaseState | None = await self.state(case_id)
        except (RPCError, WorkflowQueryFailedError):
            state = None
        return finished_refusal(case_id, str(command.type), state)

    async def find(self, case_id: str) -> CaseState | None:
        """The case's state, or ``None`` when there is no such case (no workflow, or not opened).

        Raises:
            RPCError: Temporal answered with anything else (e.g. it is unavailable).
        """
        try:
            state = await self.state(case_id)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise
        return None if state.status == CaseStatus.NEW else state

    async def state(self, case_id: str) -> CaseState:
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
        return await handle.query(CaseWorkflow.state)

    async def timeline(self, case_id: str) -> list[CaseEvent]:
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
        return await handle.query(CaseWorkflow.timeline)

    async def view(self, case_id: str, actor: Actor) -> CaseState:
        """The case as ``actor`` may see it; raises :class:`ActionRefused` outside its read jurisdiction."""
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
        try:
            return await handle.query(CaseWorkflow.view, actor.model_dump(mode="json"))
        except WorkflowQueryFailedError as err:
            raise _query_refusal(err) from None

    async def view_timeline(self, case_id: str, actor: Actor) -> list[CaseEvent]:
        """The timeline as ``actor`` may see it; raises :class:`ActionRefused` outside its read jurisdiction."""
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
        try:
            return await handle.query(CaseWorkflow.view_timeline, actor.model_dump(mode="json"))
        except WorkflowQueryFailedError as err:
            raise _query_refusal(err) from None

    async def reference_problems(
        self,
        action: Action,
        case_id: str,
        command: object,
        sections: Mapping[str, Sequence[str]] | None = None,
        categories: Container[str] | None = None,
    ) -> list[tuple[str, str, str]]:
        """``(field, rule, message)`` for each case the command names (the fields whose form widget
        is a case) that does not exist, and for ``merge`` a case to merge into that is finished;
        with the city registry's ``sections`` (unit key → section ids), each section named (widget
        ``section``) that the unit handling the case lacks (``registry.unknown_section``); with the
        city catalogue's ``categories`` (codes, e.g. :class:`RegistryCategories`), each category
        named that it lacks (``registry.unknown_category``, :func:`category_problems`).
        The case itself (``merge.self``) is the domain's to answer. Shared by the API and the CLI.
        """
        problems: list[tuple[str, str, str]] = []
        if categories is not None:
            problems += category_problems(action, command, categories)
        if sections is not None:
            fields = [f.name for f in action.fields if f.widget == Widget.SECTION]
            named = [(name, v) for name in fields if (v := getattr(command, name, None))]
            state = await self.find(case_id) if named else None
            unit = state.unit if state is not None else None
            for field, section in named:
                own = sections.get(unit.key(), ()) if unit is not None else ()
                if section not in own:
                    where = unit.key() if unit is not None else "the case (no handling unit)"
                    listed = ", ".join(own) or "none"
                    problems.append(
                        (field, UNKNOWN_SECTION, f"{where} has no section {section!r} (its sections: {listed})")
                    )
        for f in action.fields:
            ref = getattr(command, f.name, None) if f.widget == Widget.CASE else None
            if not isinstance(ref, str) or ref == case_id:
                continue
            target = await self.find(ref)
            if target is None:
                problems.append((f.name, UNKNOWN_CASE, f"there is no case {ref!r}"))
            elif action.name == "merge" and target.status in TERMINAL:
                problems.append(
                    (f.name, FINISHED_TARGET, f"case {ref} is {target.status.value}: merge into an open case")
                )
        return problems
