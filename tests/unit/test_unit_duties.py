"""Duties inside a unit: a coordinator assigns (分派), a reviewer signs replies off (审核签发).

The domain checks the duties the actor carries (``Actor.duties``; ``None``: not known, no check);
the user store says which duties a member holds: those it is designated to, and every duty nobody
of its unit is designated to. The API puts them on the actor (``GET /me`` shows them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from events.base import Duty, Role
from tests.unit.test_domain_review_corrections import HANDLER, REVIEWER, department_case, refused
from workers.api.users import UserError, UserStore
from workflows.domain import commands as c
from workflows.domain.available import available_actions

HOUSING = HANDLER.model_dump()["unit_id"]
ALL = (Duty.COORDINATOR, Duty.REVIEWER)


def as_(actor: object, *duties: Duty) -> object:
    return actor.model_copy(update={"duties": tuple(duties)})  # type: ignore[attr-defined]


def _submitted():  # type: ignore[no-untyped-def]
    case = department_case()
    case.later().do(c.SubmitReply(actor=HANDLER, notes="已维修"))
    return case


def _commands(case, actor):  # type: ignore[no-untyped-def]
    from events.base import UnitKind, UnitRef

    unit = UnitRef(kind=UnitKind.DEPARTMENT, id=HOUSING)
    return {
        "reassign": c.ReassignCase(actor=actor, handler=c.Member(person_id="li", unit=unit), reason="外出"),
        "approve_reply": c.ApproveReply(actor=actor),
        "send_back": c.SendBack(actor=actor, reason="缺照片"),
    }


NEEDS = {"reassign": Duty.COORDINATOR, "approve_reply": Duty.REVIEWER, "send_back": Duty.REVIEWER}


@pytest.mark.parametrize("action", sorted(NEEDS))
@pytest.mark.parametrize(
    "duties", [None, (), (Duty.COORDINATOR,), (Duty.REVIEWER,), ALL], ids=["unknown", "none", "coord", "rev", "both"]
)
def test_each_duty_action_needs_its_duty_when_the_actor_says_what_it_holds(
    action: str, duties: tuple[Duty, ...] | None
) -> None:
    case = _submitted()
    actor = REVIEWER.model_copy(update={"duties": duties})
    cmd = _commands(case, actor)[action]
    allowed = duties is None or NEEDS[action] in duties
    offered = {a.name for a in available_actions(case.state, actor, case.now)}  # type: ignore[arg-type]
    if allowed:
        case.later().do(cmd)
        assert action in offered
    else:
        assert refused(case, cmd) == f"duty.{NEEDS[action].value}"
        assert action not in offered


def test_assign_needs_a_coordinator() -> None:
    from events.base import UnitKind, UnitRef
    from tests.unit.domain_helpers import DISPATCHER, Case

    case = Case()
    case.open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.DEPARTMENT, id=HOUSING)))
    case.later().do(c.AcceptCase(actor=HANDLER))
    member = c.Member(person_id="wang", unit=UnitRef(kind=UnitKind.DEPARTMENT, id=HOUSING))
    plain = as_(HANDLER)
    assert refused(case, c.AssignCase(actor=plain, handler=member)) == "duty.coordinator"  # type: ignore[arg-type]
    assert refused(case, c.AssignCase(actor=as_(HANDLER, Duty.REVIEWER), handler=member)) == "duty.coordinator"  # type: ignore[arg-type]
    case.later().do(c.TakeCase(actor=plain))  # type: ignore[arg-type]  # taking needs no duty
    assert case.state.handler_id == "wang"


# --- who holds a duty -------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    s = UserStore(create_engine(f"sqlite:///{tmp_path / 'u.db'}"))
    s.create_tables()
    for uid in ("a", "b", "c"):
        s.add_user(uid, uid, Role.DEPARTMENT, "housing")
    s.add_user("x", "x", Role.DEPARTMENT, "water")
    s.add_user("op", "op", Role.DISPATCHER)
    return s


def test_a_unit_that_designates_nobody_gives_every_member_every_duty(store: UserStore) -> None:
    assert store.effective_duties(Role.DEPARTMENT, "housing") == ALL
    assert store.effective_duties(Role.DISPATCHER, None) is None
    assert store.effective_duties(Role.SUPERVISOR, "city") is None


def test_designated_members_hold_the_duty_and_the_others_lose_it(store: UserStore) -> None:
    assert store.set_duties("a", ["coordinator"]) == (Duty.COORDINATOR,)
    assert store.effective_duties(Role.DEPARTMENT, "housing", store.duties_of("a")) == ALL
    assert store.effective_duties(Role.DEPARTMENT, "housing", store.duties_of("b")) == (Duty.REVIEWER,)
    store.set_duties("b", [Duty.REVIEWER])
    assert store.effective_duties(Role.DEPARTMENT, "housing", store.duties_of("c")) == ()
    assert store.effective_duties(Role.DEPARTMENT, "housing", store.duties_of("a")) == (Duty.COORDINATOR,)
    assert store.effective_duties(Role.DEPARTMENT, "water", ()) == ALL  # another unit is not affected
    store.disable_user("a")  # a disabled coordinator designates nobody
    assert store.effective_duties(Role.DEPARTMENT, "housing", ()) == (Duty.COORDINATOR,)
    assert store.all_duties() == {"a": (Duty.COORDINATOR,), "b": (Duty.REVIEWER,)}
    assert store.set_duties("b", []) == ()
    assert store.duties_of("b") == ()


def test_bad_duties_are_refused_naming_the_field(store: UserStore) -> None:
    with pytest.raises(UserError, match=r"^duties: unknown duty 'boss'") as err:
        store.set_duties("a", ["boss"])
    assert err.value.field == "duties"
    with pytest.raises(UserError, match=r"^duties: a dispatcher holds no duty"):
        store.set_duties("op", ["reviewer"])
    with pytest.raises(UserError, match="no user"):
        store.set_duties("nobody", [])
    assert store.duties_of("a") == ()  # nothing written


def test_the_api_puts_the_duties_on_the_actor(tmp_path: Path) -> None:
    from tests.unit.test_api_routes import PEOPLE, make_api

    member = next(p for p, (role, _) in PEOPLE.items() if role == Role.DEPARTMENT)
    hotline = next(p for p, (role, _) in PEOPLE.items() if role == Role.DISPATCHER)
    for api in make_api(tmp_path):
        assert api.http.get("/me", headers=api.as_(hotline)).json()["duties"] is None
        assert api.http.get("/me", headers=api.as_(member)).json()["duties"] == ["coordinator", "reviewer"]


def test_a_single_valued_query_parameter_given_twice_is_refused(tmp_path: Path) -> None:
    from tests.unit.test_api_routes import make_api

    for api in make_api(tmp_path):
        for path, key in (("/cases", "category"), ("/cases", "state"), ("/queue", "limit")):
            r = api.http.get(path, params=[(key, "noise"), (key, "water")], headers=api.as_("op-1"))
            assert r.status_code == 422, r.text
            assert [(e["field"], e["rule"]) for e in r.json()["errors"]] == [(f"query.{key}", "repeated")]
        many = api.http.get("/queue", params=[("case_id", "C1"), ("case_id", "C2")], headers=api.as_("op-1"))
        assert many.status_code != 422, many.text  # a list parameter may repeat
