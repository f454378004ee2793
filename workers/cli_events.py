"""`gridcase events tail` and `gridcase topics ensure|list`.

Register in :mod:`workers.cli` with::

    app.add_typer(events_app, name="events", help="Watch case events on Kafka.")
    app.add_typer(topics_app, name="topics", help="Create and list the Kafka topics.")
"""

from __future__ import annotations

from typing import Any

import typer

from events.base import CaseEventBase
from events.schemas import CaseEvent, event_type
from workers.cli_errors import require_kafka
from workers.settings import get_settings

events_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
topics_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

_BASE_FIELDS = set(CaseEventBase.model_fields) | {"type"}
_MAX_VALUE = 60


def _short(value: Any) -> str:
    if isinstance(value, dict):
        if set(value) == {"kind", "id"}:  # a UnitRef
            return f"{value['kind']}:{value['id']}"
        if "street_id" in value and "grid_id" in value:  # a Location
            return f"{value['street_id']}/{value['grid_id']}"
        if {"name", "phone"} <= set(value):  # the (masked) contact
            return f"{value.get('name') or '-'}/{value.get('phone') or '-'}"
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "department_id" in v for v in value):
            return ",".join(v["department_id"] for v in value)
        return f"[{len(value)}]" if value else ""
    text = str(value).replace("\n", " ")
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that nothing written after the reader left raises again."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def format_event(event: CaseEvent) -> str:
    """One readable line: time, case, seq, type, actor, key fields."""
    data = event.model_dump(mode="json", exclude=_BASE_FIELDS)
    fields = " ".join(f"{k}={_short(v)}" for k, v in data.items() if v not in (None, [], "", False) and _short(v))
    when = event.occurred_at.astimezone().strftime("%Y-%m-%d %H:%M:%S%z")
    return f"{when}  {event.case_id}  #{event.seq:<3} {event_type(event):<32} {event.actor.label():<28} {fields}"


@events_app.command("tail")
def tail(
    department: str | None = typer.Option(None, "--department", "-d", help="Only cases this department is in."),
    street: str | None = typer.Option(None, "--street", "-s", help="Only cases of this street."),
    case: str | None = typer.Option(None, "--case", "-c", help="Only this case."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest retained event."),
    max_events: int | None = typer.Option(None, "--max-events", "-n", help="Stop after this many events."),
    stop_after: float | None = typer.Option(None, "--seconds", help="Stop after this many seconds."),
) -> None:
    """Print case events (department-safe topic) as they happen, one line each; Ctrl-C stops."""
    from events.consumer import Envelope, StopConsuming, consume, new_group_id

    settings = get_settings()
    require_kafka(settings)

    def show(_envelope: Envelope, event: CaseEvent) -> None:
        try:
            typer.echo(format_event(event))
        except BrokenPipeError:  # the reader went away (`| head`): stop; the event did not fail
            _silence_stdout()
            raise StopConsuming from None

    try:
        stats = consume(
            show,
            settings=settings,
            group_id=new_group_id(),
            department=department,
            street=street,
            case_id=case,
            from_beginning=from_beginning,
            max_events=max_events,
            stop_after=stop_after,
        )
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
        return
    if stats.dead_lettered:
        typer.echo(f"{stats.dead_lettered} invalid record(s) sent to the dead-letter topic", err=True)


@topics_app.command("ensure")
def ensure(
    partitions: int | None = typer.Option(None, help="Partitions of the case-events topics (default 6)."),
    replication_factor: int | None = typer.Option(None, help="Replication factor (default 1 locally)."),
) -> None:
    """Create the missing gridcase topics (idempotent)."""
    from events.topics import ensure_topics, topic_specs
    from workers.cli_errors import refuse_unavailable, service_failure

    settings = get_settings()
    require_kafka(settings)
    try:
        created = ensure_topics(settings, partitions=partitions, replication_factor=replication_factor)
    except Exception as exc:
        failure = service_failure(exc, settings)
        if failure is not None:
            refuse_unavailable(failure)
        typer.echo(f"could not ensure topics on {settings.kafka_bootstrap}: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    for spec in topic_specs(settings, partitions=partitions, replication_factor=replication_factor):
        state = "created" if spec.name in created else "exists"
        typer.echo(f"{state:<8} {spec.name}  partitions={spec.partitions} replication={spec.replication_factor}")


@topics_app.command("list")
def list_topics(
    offline: bool = typer.Option(False, "--offline", help="Only the configuration: do not ask the broker."),
    timeout: float = typer.Option(10.0, help="Seconds to wait for the broker."),
) -> None:
    """Show the gridcase topics, their configuration and whether the broker has them."""
    from events.topics import topic_specs

    settings = get_settings()
    existing: set[str] | None = None
    if not offline:
        from kafka import KafkaAdminClient

        require_kafka(settings)
        ms = int(timeout * 1000)
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="gridcase-topics",
            request_timeout_ms=ms,
            bootstrap_timeout_ms=ms,
        )
        try:
            existing = set(admin.list_topics())
        finally:
            admin.close()
    for spec in topic_specs(settings):
        cfg = " ".join(f"{k}={v}" for k, v in spec.configs.items())
        state = "" if existing is None else ("exists   " if spec.name in existing else "missing  ")
        typer.echo(f"{state}{spec.name}  partitions={spec.partitions} replication={spec.replication_factor} {cfg}")
        typer.echo(f"    {spec.description}")
    if existing is not None and any(s.name not in existing for s in topic_specs(settings)):
        typer.echo("missing topics: `gridcase topics ensure` creates them", err=True)
