"""``gridcase demo``: one case through the whole governance chain on the local stack.

Runs a case worker in this process, then drives a hotline complaint through intake, dispatch to
the street, the street's whistle to two departments, their report-ins, resolution, the grid's
verification, the resident's callback and closure, printing each step and the final timeline.
"""

from __future__ import annotations

import asyncio
import uuid

import typer

from events.base import UnitKind, UnitRef
from events.schemas import Channel, Rating, ResidentContact, WhistleTask
from workers.case_client import CaseClient, case_id_for_key
from workers.composition import build_worker, connect_temporal
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, dept_actor, unit_actor
from workflows.domain.registry import sample_city


async def run_demo(settings: Settings) -> str:
    """Drive one case end to end; returns its id."""
    client = await connect_temporal(settings)
    city = sample_city()
    street = UnitRef(kind=UnitKind.STREET, id="S-1")
    sa = unit_actor(street)
    key = f"demo-{uuid.uuid4().hex[:8]}"
    case_id = case_id_for_key(key)
    async with build_worker(client, settings):
        cc = CaseClient(client, settings.task_queue)
        steps: list[tuple[str, c.Command]] = [
            ("受理 intake (12345 hotline)", c.OpenCase(
                actor=DISPATCHER, case_id=case_id, channel=Channel.HOTLINE, category="illegal-construction",
                title="小区内违法搭建", description="青城花园3号楼楼顶有人违法搭建彩钢房",
                location=city.locate(grid_id="G-101"), contact=ResidentContact(name="张三", phone="13812345678"),
                idempotency_key=key)),
            ("立案 register", c.RegisterCase(actor=DISPATCHER)),
            ("派单 dispatch to street S-1", c.DispatchCase(actor=DISPATCHER, unit=street)),
            ("签收 street accepts", c.AcceptCase(actor=sa)),
            ("响应 street contacts the resident", c.ContactResident(actor=sa, note="已电话联系诉求人")),
            ("吹哨 street summons two departments", c.BlowWhistle(actor=sa, tasks=[
                WhistleTask(department_id="urban-management", task="拆除违法建设"),
                WhistleTask(department_id="housing", task="房屋安全鉴定")])),
            ("报到 urban-management reports in", c.ReportIn(actor=dept_actor("urban-management"))),
            ("报到 housing reports in", c.ReportIn(actor=dept_actor("housing"))),
            ("urban-management done", c.CompleteTask(actor=dept_actor("urban-management"), result="已拆除")),
            ("housing done", c.CompleteTask(actor=dept_actor("housing"), result="结构安全")),
            ("办结 street resolves", c.ResolveCase(actor=sa, notes="违法建设已拆除")),
            ("核查 grid worker verifies", c.VerifyCase(actor=GRID_WORKER, passed=True)),
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
