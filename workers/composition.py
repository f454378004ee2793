"""The composition root: the one place where clients, sinks and workers are built.

Nothing here runs at import; every function builds what it is asked for from :class:`Settings`.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.publishing import EventSink, PublishingActivities
from activities.sla import SlaActivities
from workers.settings import Settings
from workflows.case_workflow import CaseWorkflow
from workflows.sla.calendar import CalendarError, WorkCalendar, today_in_shanghai, worker_calendar
from workflows.sla.policy import DEFAULT_POLICY_FILE, PolicyError, SlaPolicy, default_policy, load_policy

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from city.registry import SqlCityRegistry
    from readmodel.projector import Projector


async def connect_temporal(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A Temporal client with the pydantic data converter the workflows need (on ``runtime`` if given)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


def active_policy(settings: Settings) -> SlaPolicy:
    """The SLA policy in force: the configured file, or the built-in default."""
    return load_policy(settings.policy_file) if settings.policy_file else default_policy()


def active_calendar(settings: Settings, today: dt.date | None = None) -> WorkCalendar:
    """The working-time calendar for last year to two years ahead."""
    return worker_calendar(settings.calendar_override_file, today or today_in_shanghai())


class RefusedToStart(SystemExit):
    """The worker's SLA configuration is invalid; ``gridcase worker`` prints the message and exits with 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"gridcase worker: refusing to start: {message}")


def checked_policy(settings: Settings) -> SlaPolicy:
    """The active policy, its category overrides checked against the city registry's catalogue.

    Raises :class:`RefusedToStart` when the policy is invalid or names a category the city lacks.
    """
    try:
        categories = [c.code for c in build_registry(settings).categories()]
    except Exception as exc:
        raise RefusedToStart(f"cannot read the city registry to check the SLA policy's categories: {exc}") from None
    try:
        return load_policy(settings.policy_file or DEFAULT_POLICY_FILE, categories=categories)
    except PolicyError as exc:
        raise RefusedToStart(str(exc)) from None


def checked_calendar(settings: Settings) -> WorkCalendar:
    """The active calendar; raises :class:`RefusedToStart` for an invalid override file."""
    try:
        return active_calendar(settings)
    except CalendarError as exc:
        raise RefusedToStart(str(exc)) from None


def build_sink(settings: Settings) -> EventSink:
    """The Kafka event sink (connects lazily, on first send)."""
    from activities.kafka_sink import KafkaEventSink

    return KafkaEventSink(settings.kafka)


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """Temporal's workflow sandbox when ``settings.worker_sandboxed``, else the plain runner."""
    return SandboxedWorkflowRunner() if settings.worker_sandboxed else UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    settings: Settings,
    *,
    sink: EventSink | None = None,
    task_queue: str | None = None,
    policy: SlaPolicy | None = None,
    calendar: WorkCalendar | None = None,
    max_cached_workflows: int | None = None,
    departments: list[str] | None = None,
    categories: list[str] | None = None,
    properties: dict[str, tuple[str, ...]] | None = None,
    volunteer_teams: dict[str, tuple[str, ...]] | None = None,
) -> Worker:
    """The case worker: the case workflow, the publishing and SLA activities.

    With ``settings.sla_time_scale`` set, new cases run on compressed time (see
    :mod:`workflows.sla.timescale`). The policy and calendar named by the settings are checked
    first (:func:`checked_policy`, :func:`checked_calendar`): an invalid one raises
    :class:`RefusedToStart`. New cases carry the city registry's departments (``departments``, by
    default read from the registry) and refuse a dispatch or a whistle naming any other; and its
    categories (``categories``, read from the registry with the departments when neither is
    given), refusing a reclassification to any other; and, read with the departments, its property
    companies and volunteer teams (``properties``, ``volunteer_teams``: id → the communities each
    serves), passing a case down to, summoning or calling in only one serving the case's community.
    """
    policy = policy or checked_policy(settings)
    calendar = calendar or checked_calendar(settings)
    publishing = PublishingActivities(sink or build_sink(settings))
    if departments is None:
        registry = build_registry(settings)
        departments = list(registry.departments)
        if categories is None:
            categories = [cat.code for cat in registry.categories()]
        if properties is None:
            properties = registry.property_communities()
        if volunteer_teams is None:
            volunteer_teams = registry.volunteer_team_communities()
    sla = SlaActivities(
        policy,
        calendar,
        time_scale=settings.sla_time_scale,
        departments=departments,
        categories=categories,
        properties=properties,
        volunteer_teams=volunteer_teams,
    )
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CaseWorkflow],
        activities=[publishing.publish_case_events, publishing.publish_case_events_local, sla.load_sla_context],
        activity_executor=concurrent.futures.ThreadPoolExecutor(max_workers=8),
        max_cached_workflows=max_cached_workflows or settings.worker_max_cached_workflows,
        graceful_shutdown_timeout=dt.timedelta(seconds=20),
        workflow_runner=workflow_runner(settings),
    )


def build_readmodel_engine(settings: Settings) -> Engine:
    """The read-model database engine (``settings.resolved_database_url``; SQLite by default)."""
    from readmodel.db import make_engine

    return make_engine(settings.resolved_database_url)


def build_projector(settings: Settings, engine: Engine | None = None, *, group_id: str | None = None) -> Projector:
    """The projector: the case-events topic into the read model (consumer group ``settings.projector_group_id``)."""
    from readmodel.projector import Projector

    return Projector(
        settings.kafka, engine or build_readmodel_engine(settings), group_id=group_id or settings.projector_group_id
    )


def build_registry(settings: Settings) -> SqlCityRegistry:
    """The city registry in ``settings.resolved_database_url``, held in memory and cached per process.

    On first use, when the database has no city yet, the files of ``settings.city_data_dir`` (default:
    the bundled seed city) are validated and loaded. Later calls cost one small query and return the
    cached registry until ``gridcase city load`` replaces the city.
    """
    from city.registry import open_registry

    return open_registry(settings.resolved_database_url, settings.city_data_dir)
