"""``gridcase case ...``: drive one case through every path from the command line.

Every action names who acts with ``--as ROLE[:UNIT][/PERSON]``, e.g. ``--as dispatcher``,
``--as street:S-1``, ``--as department:water``, ``--as grid_worker:G-101/zhang``,
``--as supervisor:D-1``. A refused action prints the rule that refused it and exits with 2.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    ClosureType,
    EscalationLevel,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    WhistleTask,
)
from workers.case_client import ActionRefused, CaseClient, case_id_for_key, new_case_id
from workers.settings import get_settings
from workflows.domain import commands as c
from workflows.domain.registry import RegistryError
from workflows.sla.timescale import describe_scale, format_policy_duration

app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")

_ROLE_FOR_UNIT = {"street": Role.STREET, "department": Role.DEPARTMENT, "grid": Role.GRID_WORKER}


def fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def parse_actor(spec: str) -> Actor:
    """``ROLE[:UNIT][/PERSON]`` → Actor; ``grid`` is accepted for ``grid_worker``."""
    main, _, person = spec.partition("/")
    role_s, _, unit = main.partition(":")
    try:
        role = _ROLE_FOR_UNIT.get(role_s) or Role(role_s)
    except ValueError:
        fail(f"--as: unknown role {role_s!r} (one of: {', '.join(r.value for r in Role)})")
        raise
    return Actor(role=role, unit_id=unit or None, person_id=person or f"cli-{role.value}")


def parse_unit(spec: str) -> UnitRef:
    """``street:S-1`` / ``department:water`` / ``grid:G-101`` → UnitRef."""
    kind, _, unit_id = spec.partition(":")
    try:
        return UnitRef(kind=UnitKind(kind), id=unit_id)
    except (ValueError, ValidationError):
        fail(f"unit {spec!r}: expected KIND:ID with KIND one of grid, street, department")
        raise


def parse_duration(text: str) -> timedelta:
    """``3d``, ``12h``, ``90m``, or combinations like ``1d12h``."""
    import re

    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.strip())
    if not parts or not any(parts.groups()):
        fail(f"duration {text!r}: use forms like 3d, 12h, 90m or 1d12h")
    assert parts is not None
    d, h, m = (int(x or 0) for x in parts.groups())
    return timedelta(days=d, hours=h, minutes=m)


def _run(fn: Callable[[CaseClient], Awaitable[T]]) -> T:
    settings = get_settings()

    async def go() -> T:
        from workers.composition import connect_temporal

        try:
            client = await connect_temporal(settings)
        except Exception as err:
            fail(f"cannot reach Temporal at {settings.temporal_address}: {err} (is `gridcase stack up` running?)", 1)
        return await fn(CaseClient(client, settings.task_queue))

    return asyncio.run(go())


def _build(cls: type[c.Command], **fields: Any) -> Any:
    try:
        return cls(**fields)
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        fail("invalid input: " + "; ".join(lines))


def _act(case_id: str, actor: str, cls: type[c.Command], request_id: str | None = None, **fields: Any) -> None:
    command = _build(cls, actor=parse_actor(actor), **fields)

    async def go(cc: CaseClient) -> None:
        try:
            result = await cc.act(case_id, command, request_id)
        except ActionRefused as err:
            fail(f"refused by rule {err.rule}: {err.message}")
            return
        typer.echo(f"{case_id}: {result.status.value} (seq {result.seq}) events {', '.join(result.events)}")

    _run(go)


AS = typer.Option(..., "--as", help="Who acts: ROLE[:UNIT][/PERSON], e.g. street:S-1 or department:water")
REQ = typer.Option(None, "--request-id", help="Stable id: a retried call with the same id applies once")


@app.command("new")
def new(
    title: str = typer.Option(..., help="Short title of the complaint"),
    description: str = typer.Option(..., help="What the resident reports"),
    category: str = typer.Option(..., help="Catalogue category code, e.g. noise, garbage, water"),
    grid: str | None = typer.Option(None, help="Grid id, if known"),
    lat: float | None = typer.Option(None),
    lon: float | None = typer.Option(None),
    address: str | None = typer.Option(None),
    channel: Channel = typer.Option(Channel.HOTLINE),
    urgency: Urgency | None = typer.Option(None, help="Default: the category's urgency rules applied to the text"),
    name: str | None = typer.Option(None, help="Resident's name (personal data)"),
    phone: str | None = typer.Option(None, help="Resident's phone (personal data)"),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: a retried intake opens no second case"),
    self_handle: bool = typer.Option(False, help="Grid patrol: handled on the spot by the grid"),
    actor: str = typer.Option("dispatcher", "--as"),
) -> None:
    """受理: open a case from a complaint."""
    from workers.composition import build_registry

    city = build_registry(get_settings())
    try:
        location = city.locate(grid_id=grid, lat=lat, lon=lon, address=address)
        cat = city.category(category)
    except RegistryError as err:
        fail(f"invalid input: {err}")
        return
    urgency = urgency or city.urgency_for(cat.code, f"{title} {description}")
    case_id = case_id_for_key(key) if key else new_case_id()
    command = _build(
        c.OpenCase, actor=parse_actor(actor), case_id=case_id, channel=channel, category=cat.code,
        urgency=urgency, title=title, description=description, location=location,
        contact=ResidentContact(name=name, phone=phone), idempotency_key=key, self_handle=self_handle,
    )

    async def go(cc: CaseClient) -> None:
        try:
            result = await cc.open(command)
        except ActionRefused as err:
            fail(f"refused by rule {err.rule}: {err.message}")
            return
        typer.echo(f"{result.case_id}: {result.status.value} (seq {result.seq}) events {', '.join(result.events)}")

    _run(go)


@app.command("reject")
def reject(case_id: str, reason: str = typer.Option(...), actor: str = typer.Option("dispatcher", "--as"),
           request_id: str | None = REQ) -> None:
    """不予受理: reject an invalid complaint."""
    _act(case_id, actor, c.RejectCase, request_id, reason=reason)


@app.command("register")
def register(case_id: str, note: str | None = None, actor: str = typer.Option("dispatcher", "--as"),
             request_id: str | None = REQ) -> None:
    """立案: register a received case."""
    _act(case_id, actor, c.RegisterCase, request_id, note=note)


@app.command("dispatch")
def dispatch(case_id: str, to: str = typer.Option(..., help="street:S-1, grid:G-101 or department:water"),
             note: str | None = None, actor: str = typer.Option("dispatcher", "--as"),
             request_id: str | None = REQ) -> None:
    """派单: send the case to a street, a grid or a department."""
    _act(case_id, actor, c.DispatchCase, request_id, unit=parse_unit(to), note=note)


@app.command("accept")
def accept(case_id: str, actor: str = AS, request_id: str | None = REQ) -> None:
    """签收: the assigned unit accepts the case."""
    _act(case_id, actor, c.AcceptCase, request_id)


@app.command("return")
def return_(case_id: str, reason: str = typer.Option(...),
            code: ReturnReason = typer.Option(ReturnReason.TERRITORY_MISMATCH),
            evidence: list[str] = typer.Option([], help="Evidence references (repeatable)"),
            actor: str = AS, request_id: str | None = REQ) -> None:
    """退单: the assigned unit returns a wrongly dispatched case."""
    _act(case_id, actor, c.ReturnCase, request_id, reason_code=code, reason=reason, evidence=evidence)


@app.command("review")
def review(case_id: str, decision: ReviewDecision = typer.Option(...), ruling: str = typer.Option(...),
           to: str | None = typer.Option(None, help="Where to re-dispatch"),
           actor: str = typer.Option("dispatcher", "--as"), request_id: str | None = REQ) -> None:
    """Review a return: re-dispatch elsewhere or insist (final ruling)."""
    _act(case_id, actor, c.ReviewReturn, request_id, decision=decision, ruling=ruling,
         redispatch_to=parse_unit(to) if to else None)


@app.command("contact")
def contact(case_id: str, note: str | None = None, actor: str = AS, request_id: str | None = REQ) -> None:
    """响应: first contact with the resident."""
    _act(case_id, actor, c.ContactResident, request_id, note=note)


@app.command("whistle")
def whistle(case_id: str,
            task: list[str] = typer.Option(..., help="DEPARTMENT=task text (repeatable)"),
            reason: str | None = None, actor: str = AS, request_id: str | None = REQ) -> None:
    """吹哨: the street summons departments, each with a task."""
    tasks = []
    for t in task:
        dept, sep, text = t.partition("=")
        if not sep:
            fail(f"--task {t!r}: expected DEPARTMENT=task text")
        tasks.append(WhistleTask(department_id=dept, task=text))
    _act(case_id, actor, c.BlowWhistle, request_id, tasks=tasks, reason=reason)


@app.command("report")
def report(case_id: str, note: str | None = None, actor: str = AS, request_id: str | None = REQ) -> None:
    """报到: a summoned department reports in."""
    _act(case_id, actor, c.ReportIn, request_id, note=note)


@app.command("complete")
def complete(case_id: str, result: str = typer.Option(...), evidence: list[str] = typer.Option([]),
             actor: str = AS, request_id: str | None = REQ) -> None:
    """A summoned department finishes its task."""
    _act(case_id, actor, c.CompleteTask, request_id, result=result, evidence=evidence)


@app.command("resolve")
def resolve(case_id: str, notes: str = typer.Option(...), evidence: list[str] = typer.Option([]),
            actor: str = AS, request_id: str | None = REQ) -> None:
    """办结: the handler declares the matter resolved."""
    _act(case_id, actor, c.ResolveCase, request_id, notes=notes, evidence=evidence)


@app.command("verify")
def verify(case_id: str, passed: bool = typer.Option(True, "--passed/--failed"), note: str | None = None,
           actor: str = AS, request_id: str | None = REQ) -> None:
    """核查: the grid worker checks the fix (failed → rework)."""
    _act(case_id, actor, c.VerifyCase, request_id, passed=passed, note=note)


@app.command("callback")
def callback(case_id: str, rating: Rating = typer.Option(...),
             resolved: bool = typer.Option(True, "--resolved/--not-resolved"), comment: str | None = None,
             actor: str = typer.Option("dispatcher", "--as"), request_id: str | None = REQ) -> None:
    """回访: record the resident's rating (unsatisfied → reopen)."""
    _act(case_id, actor, c.RecordCallback, request_id, rating=rating, resolved=resolved, comment=comment)


@app.command("close")
def close(case_id: str, closure: ClosureType | None = typer.Option(None, "--type"), note: str | None = None,
          actor: str = typer.Option("dispatcher", "--as"), request_id: str | None = REQ) -> None:
    """结案: close the case."""
    _act(case_id, actor, c.CloseCase, request_id, closure_type=closure, note=note)


@app.command("extend")
def extend(case_id: str, extra: str = typer.Option(..., help="e.g. 3d"), reason: str = typer.Option(...),
           actor: str = AS, request_id: str | None = REQ) -> None:
    """延期: the handler requests an extension."""
    _act(case_id, actor, c.RequestExtension, request_id, extra=parse_duration(extra), reason=reason)


@app.command("decide-extension")
def decide_extension(case_id: str, approved: bool = typer.Option(..., "--approve/--refuse"),
                     note: str | None = None, actor: str = typer.Option("dispatcher", "--as"),
                     request_id: str | None = REQ) -> None:
    """Approve or refuse an extension request."""
    _act(case_id, actor, c.DecideExtension, request_id, approved=approved, note=note)


@app.command("pause")
def pause(case_id: str, reason: str = typer.Option(...), actor: str = AS, request_id: str | None = REQ) -> None:
    """Waiting for the resident: pause the handling clocks."""
    _act(case_id, actor, c.PauseForResident, request_id, reason=reason)


@app.command("resume")
def resume(case_id: str, note: str | None = None, actor: str = AS, request_id: str | None = REQ) -> None:
    """The resident answered: resume the handling clocks."""
    _act(case_id, actor, c.ResumeFromResident, request_id, note=note)


@app.command("shelve")
def shelve(case_id: str, reason: str = typer.Option(...), actor: str = typer.Option("dispatcher", "--as"),
           request_id: str | None = REQ) -> None:
    """挂账: keep the case in the register as not resolvable now."""
    _act(case_id, actor, c.ShelveCase, request_id, reason=reason)


@app.command("unshelve")
def unshelve(case_id: str, note: str | None = None, actor: str = typer.Option("dispatcher", "--as"),
             request_id: str | None = REQ) -> None:
    """Take a shelved case up again."""
    _act(case_id, actor, c.UnshelveCase, request_id, note=note)


@app.command("terminate")
def terminate(case_id: str, reason: str = typer.Option(...), actor: str = typer.Option("dispatcher", "--as"),
              request_id: str | None = REQ) -> None:
    """终止: stop handling after review (closes the case as special)."""
    _act(case_id, actor, c.TerminateCase, request_id, reason=reason)


@app.command("appeal")
def appeal(case_id: str, reason: str = typer.Option(...), actor: str = AS, request_id: str | None = REQ) -> None:
    """申诉: the handling unit asks to exclude the case from its evaluation."""
    _act(case_id, actor, c.FileAppeal, request_id, reason=reason)


@app.command("decide-appeal")
def decide_appeal(case_id: str, granted: bool = typer.Option(..., "--grant/--deny"), note: str | None = None,
                  actor: str = AS, request_id: str | None = REQ) -> None:
    """A supervisor decides an appeal."""
    _act(case_id, actor, c.DecideAppeal, request_id, granted=granted, note=note)


@app.command("merge")
def merge(case_id: str, into: str = typer.Option(..., help="The case this one duplicates"),
          actor: str = typer.Option("dispatcher", "--as"), request_id: str | None = REQ) -> None:
    """Merge a duplicate report into an existing case."""
    _act(case_id, actor, c.MergeInto, request_id, into_case_id=into)


@app.command("supervise")
def supervise(case_id: str, note: str = typer.Option(...),
              level: EscalationLevel = typer.Option(EscalationLevel.SUPERVISION),
              actor: str = AS, request_id: str | None = REQ) -> None:
    """催办 / 督办 / 通报 by hand."""
    _act(case_id, actor, c.Supervise, request_id, level=level, note=note)


_CITY_TZ = ZoneInfo("Asia/Shanghai")  # the working calendar's time zone, as in `case timeline`


def _fmt(t: datetime | None, seconds: bool = False) -> str:
    if t is None:
        return "-"
    return t.astimezone(_CITY_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@app.command("show")
def show(case_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The case's state and every SLA clock with its due time and state."""

    async def go(cc: CaseClient) -> None:
        try:
            s = await cc.state(case_id)
        except Exception as err:
            fail(f"case {case_id}: {err}", 1)
            return
        if as_json:
            typer.echo(s.model_dump_json(indent=2, exclude={"sla"}))
            return
        loc = s.location
        typer.echo(f"case {s.case_id}  status {s.status.value}  seq {s.seq}")
        typer.echo(f"  {s.title} [{s.category}/{s.urgency.value}] via {s.channel.value if s.channel else '-'}")
        if loc:
            typer.echo(f"  where: grid {loc.grid_id} / community {loc.community_id} / street {loc.street_id} "
                       f"/ district {loc.district_id}")
        typer.echo(f"  unit: {s.unit.key() if s.unit else '-'}  accepted: {s.accepted}  "
                   f"breached: {s.breached}  rework: {s.rework_count}  reopened: {s.reopen_count}")
        if s.whistles:
            for w in s.whistles:
                for t in w.tasks.values():
                    typer.echo(f"  whistle {w.round}: {t.department_id} reported {_fmt(t.reported_in_at)} "
                               f"done {_fmt(t.completed_at)}")
        scale = s.sla.time_scale if s.sla else None
        if scale is not None:
            typer.echo(f"  {describe_scale(scale, s.sla.policy.working_day if s.sla else timedelta(hours=7))}")
            typer.echo("  clocks (wall-clock times, Asia/Shanghai; budget in policy hours):")
            typer.echo(f"    {'clock':<16}{'unit':<30}{'started':<21}{'due':<21}{'budget':<24}{'state':<10}")
            for clock in s.clocks.values():
                typer.echo(f"    {clock.clock_id:<16}{clock.unit_key:<30}{_fmt(clock.started_at, True):<21}"
                           f"{_fmt(clock.due_at, True):<21}{format_policy_duration(clock.budget, scale):<24}"
                           f"{clock.status.value:<10}")
            return
        typer.echo("  clocks (times Asia/Shanghai):")
        typer.echo(f"    {'clock':<16}{'unit':<30}{'started':<18}{'due':<18}{'state':<10}")
        for clock in s.clocks.values():
            typer.echo(f"    {clock.clock_id:<16}{clock.unit_key:<30}{_fmt(clock.started_at):<18}"
                       f"{_fmt(clock.due_at):<18}{clock.status.value:<10}")

    _run(go)


@app.command("timeline")
def timeline(
    case_id: str,
    source: str = typer.Option(
        "auto", help="temporal (the workflow's own history), readmodel (the SQL read model), or auto: "
        "temporal, else the read model"),
    raw: bool = typer.Option(False, "--raw", help="One line per event: do not fold clock events into actions."),
) -> None:
    """The audit trail of one case: who did what, when, against which clock."""
    from rich.console import Console

    from events.schemas import parse_event
    from readmodel.projection import timeline_row
    from readmodel.timeline import audit_trail, render_audit

    if source not in ("auto", "temporal", "readmodel"):
        fail(f"--source: must be auto, temporal or readmodel, got {source!r}")
    settings = get_settings()
    rows: list[dict[str, Any]] | None = None
    used = source
    if source in ("auto", "temporal"):
        async def from_temporal() -> list[Any] | str:
            from workers.composition import connect_temporal

            try:
                client = await connect_temporal(settings)
                return list(await CaseClient(client, settings.task_queue).timeline(case_id))
            except Exception as err:
                return f"{type(err).__name__}: {err}"

        got = asyncio.run(from_temporal())
        if isinstance(got, str):
            if source == "temporal":
                fail(f"case {case_id}: {got}", 1)
            typer.secho(f"(Temporal: {got.splitlines()[0][:120]}; reading the read model)", err=True,
                        fg=typer.colors.YELLOW)
        else:
            rows = [timeline_row(parse_event(e) if isinstance(e, dict) else e) for e in got]
            used = "temporal"
    if rows is None:
        from readmodel.queries import get_timeline
        from workers.composition import build_readmodel_engine

        engine = build_readmodel_engine(settings)
        try:
            rows = [r.model_dump() for r in get_timeline(engine, case_id)]
        except Exception as err:
            fail(f"case {case_id}: read model unavailable: {err} (run `gridcase readmodel migrate`)", 1)
        finally:
            engine.dispose()
        used = "read model"
        if not rows:
            fail(f"case {case_id}: not in the read model (is `gridcase projector` running?)", 1)
    assert rows is not None
    Console().print(render_audit(case_id, audit_trail(rows, fold=not raw), source=used))
    scales = {m.group(1) for r in rows if (m := re.search(r"time_scale=([0-9.e+-]+)", str(r.get("detail") or "")))}
    for scale in sorted(scales):  # the case ran on compressed time: its due times and budgets are compressed
        typer.echo(describe_scale(float(scale)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
