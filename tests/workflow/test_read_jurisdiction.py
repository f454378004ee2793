"""The workflow's ``view`` query refuses a reader outside the case's read jurisdiction."""

from __future__ import annotations

import uuid

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Channel, ResidentContact, WhistleTask
from workers.case_client import ActionRefused, CaseClient
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, dept_actor, unit_actor

RESIDENT = Actor(role=Role.RESIDENT, person_id="res-owner")
OTHER_RESIDENT = Actor(role=Role.RESIDENT, person_id="res-other")
STREET = UnitRef(kind=UnitKind.STREET, id=LOCATION.street_id)


async def _open_web_case(cases: CaseClient) -> str:
    cid = "R" + uuid.uuid4().hex[:10].upper()
    await cases.open(
        c.OpenCase(
            actor=RESIDENT,
            case_id=cid,
            channel=Channel.WEB,
            category="noise",
            title="噪音扰民",
            description="夜间施工",
            location=LOCATION,
            contact=ResidentContact(name="李四", phone="13900000000"),
            idempotency_key=f"key-{cid}",
        )
    )
    return cid


async def _refused(cases: CaseClient, cid: str, actor: Actor) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        await cases.view(cid, actor)
    return info.value


async def test_resident_reads_own_case_only(cases: CaseClient) -> None:
    cid = await _open_web_case(cases)
    own = await cases.view(cid, RESIDENT)
    assert own.case_id == cid and own.contact.resident_id == RESIDENT.person_id
    assert own == await cases.state(cid)
    assert [e.event_id for e in await cases.view_timeline(cid, RESIDENT)] == [
        e.event_id for e in await cases.timeline(cid)
    ]

    refused = await _refused(cases, cid, OTHER_RESIDENT)
    assert refused.rule == "jurisdiction.read"
    assert cid in refused.message and "res-other" in refused.message
    with pytest.raises(ActionRefused) as info:
        await cases.view_timeline(cid, OTHER_RESIDENT)
    assert info.value.rule == "jurisdiction.read"


async def test_units_read_only_within_their_jurisdiction(cases: CaseClient) -> None:
    cid = await _open_web_case(cases)
    assert (await cases.view(cid, DISPATCHER)).case_id == cid
    assert (await cases.view(cid, GRID_WORKER)).case_id == cid  # the case lies in its grid

    other_grid = Actor(role=Role.GRID_WORKER, person_id="gw-9", unit_id="G-999")
    assert (await _refused(cases, cid, other_grid)).rule == "jurisdiction.read"

    housing = dept_actor("housing")
    assert (await _refused(cases, cid, housing)).rule == "jurisdiction.read"
    sa = unit_actor(STREET)
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=STREET),
        c.AcceptCase(actor=sa),
        c.ContactResident(actor=sa),
        c.BlowWhistle(actor=sa, tasks=[WhistleTask(department_id="housing", task="inspect the site")]),
    ):
        await cases.act(cid, cmd)
    assert (await cases.view(cid, housing)).case_id == cid  # summoned by the whistle
    assert (await _refused(cases, cid, dept_actor("environment"))).rule == "jurisdiction.read"
