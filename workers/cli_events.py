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
from workers.settings import get_settings

events_app = typer.Typer(no_args_is_help=True)
topics_app = typer.Typer(no_args_is_help=True)

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
    from events.consumer import Envelope, consume, new_group_id

    settings = get_settings()

    def show(_envelope: Envelope, event: CaseEvent) -> None:
        typer.echo(format_event(event))

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

    settings = get_settings()
    try:
        created = ensure_topics(settings, partitions=partitions, replication_factor=replication_factor)
    except Exception as exc:
        typer.echo(f"could not ensure topics on {settings.kafka_bootstrap}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for spec in topic_specs(settings, partitions=partitions, replication_factor=replication_factor):
        state = "created" if spec.name in created else "exists"
        typer.echo(f"{state:<8} {spec.name}  partitions={spec.partitions} replication={spec.replication_factor}")


@topics_app.command("list")
def list_topics() -> None:
    """Show the gridcase topics and their configuration."""
    from events.topics import topic_specs

    for spec in topic_specs(get_settings()):
        cfg = " ".join(f"{k}={v}" for k, v in spec.configs.items())
        typer.echo(f"{spec.name}  partitions={spec.partitions} replication={spec.replication_factor} {cfg}")
        typer.echo(f"    {spec.description}")
