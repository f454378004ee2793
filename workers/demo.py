"""``gridcase demo``: one case through the whole governance chain on the local stack.

Runs a case worker in this process, then drives a hotline complaint through intake, dispatch to
the street, the street's whistle to two departments, their report-ins, resolution, the grid's
verification, the resident's callback and closure, printing each step and the final timeline.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import typer

from city.model import StaffRole
from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Channel, Rating, ResidentContact, WhistleTask
from workers.case_client import CaseClient, case_id_for_key
from workers.composition import build_registry, build_worker, connect_temporal
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, dept_actor, unit_actor


async def run_demo(settings: Settings) -> str:
    """Drive one case end to end; returns its id."""
    client = await connect_temporal(settings)
    city = build_registry(settings)
    grid = city.grids()[0]
    lat, lon = city.random_point(grid.id, random.Random(0))
    location = city.locate(lat=lat, lon=lon, address=f"{city.streets[grid.street_id].name}{grid.name}3号楼")
    street = UnitRef(kind=UnitKind.STREET, id=location.street_id)
    sa = unit_actor(street)
    worker = city.staff_of(grid.id, StaffRole.FULL_TIME)[0]
    grid_worker = Actor(role=Role.GRID_WORKER, person_id=worker.id, unit_id=grid.id, name=worker.name)
    dept_a, dept_b = city.category("illegal-construction").departments[:2]
    key = f"demo-{uuid.uuid4().hex[:8]}"
    case_id = case_id_for_key(key)
    async with build_worker(client, settings):
        cc = CaseClient(client, settings.task_queue)
        steps: list[tuple[str, c.Command]] = [
            ("受理 intake (12345 hotline)", c.OpenCase(
                actor=DISPATCHER, case_id=case_id, channel=Channel.HOTLINE, category="illegal-construction",
                title="小区内违法搭建", description=f"{grid.name}3号楼楼顶有人违法搭建彩钢房",
                location=location, contact=ResidentContact(name="张三", phone="13812345678"),
                idempotency_key=key)),
            ("立案 register", c.RegisterCase(actor=DISPATCHER)),
            (f"派单 dispatch to street {street.id}", c.DispatchCase(actor=DISPATCHER, unit=street)),
            ("签收 street accepts", c.AcceptCase(actor=sa)),
            ("响应 street contacts the resident", c.ContactResident(actor=sa, note="已电话联系诉求人")),
            ("吹哨 street summons two departments", c.BlowWhistle(actor=sa, tasks=[
                WhistleTask(department_id=dept_a, task="拆除违法建设"),
                WhistleTask(department_id=dept_b, task="房屋安全鉴定")])),
            (f"报到 {dept_a} reports in", c.ReportIn(actor=dept_actor(dept_a))),
            (f"报到 {dept_b} reports in", c.ReportIn(actor=dept_actor(dept_b))),
            (f"{dept_a} done", c.CompleteTask(actor=dept_actor(dept_a), result="已拆除")),
            (f"{dept_b} done", c.CompleteTask(actor=dept_actor(dept_b), result="结构安全")),
            ("办结 street resolves", c.ResolveCase(actor=sa, notes="违法建设已拆除")),
            ("核查 grid worker verifies", c.VerifyCase(actor=grid_worker, passed=True)),
            ("回访 callback: satisfied", c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED)),
            ("结案 close", c.CloseCase(actor=DISPATCHER)),
        ]
        for label, cmd in steps:
            if isinstance(cmd, c.OpenCase):
                result = await cc.open(cmd)
            else:
                result = await cc.act(case_id, cmd)  # type: ignore[arg-type]
            typer.echo(f"  {label:<40} → {result.status.value:<11} events {', '.join(result.events)}")
        handle = client.get_workflow_handle(f"case-{case_id}")
        outcome = await handle.result()
        typer.echo(f"\ncase {case_id} {outcome['status'] if isinstance(outcome, dict) else outcome.status} "
                   f"after {outcome['events'] if isinstance(outcome, dict) else outcome.events} events, "
                   f"all published to Kafka")
    return case_id


def demo(settings: Settings) -> None:
    typer.echo(f"gridcase demo on Temporal {settings.temporal_address} and Kafka {settings.kafka_bootstrap}\n")
    case_id = asyncio.run(run_demo(settings))
    typer.echo(f"\nSee it: gridcase case timeline {case_id}   |   gridcase case show {case_id}")
    typer.echo(f"Temporal Web UI: http://localhost:{settings.temporal_ui_port}/namespaces/"
               f"{settings.temporal_namespace}/workflows/case-{case_id}")
    typer.echo(f"Its events: gridcase events tail --case {case_id} --from-beginning")
