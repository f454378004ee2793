"""Command bodies: the resident's phone rule and whistle tasks that refuse unknown fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from events.schemas import ResidentContact, WhistleBlown, WhistleTask
from tests.unit.domain_helpers import DISPATCHER, LOCATION, STREET_ACTOR, Case
from workflows.domain import commands as c
from workflows.domain.contact import PHONE_MESSAGE, PHONE_RULE, check_phone, is_landline, is_mobile, is_valid_phone

MOBILES = [
    "13812345678",
    "19912345678",
    "138 1234 5678",
    "138-1234-5678",
    "+8613812345678",
    "+86 138 1234 5678",
    "86-138-1234-5678",
    "8613812345678",
    " 13812345678 ",
    "0086 13812345678",
    "0086-138-1234-5678",
]
LANDLINES = [
    "010-62345678",
    "01062345678",
    "0471-6234567",
    "0471 6234567",
    "021-6234-5678",
    "010-62345678-123",
    "010-62345678转123",
    "0471-6234567 ext 8",
    "0755-86013388",
    "(010)62345678",
    "(0471) 6234567",
    "(0471)6234567-12",
    "+86 10 62345678",
    "+86-471-6234567",
    "0086 10 6234 5678",
    "86 21 6234 5678",
]
REFUSED = [
    "1-2",
    "",
    "call me",
    "12345",
    "95598",
    "12812345678",
    "1381234567",
    "138123456789",
    "138  1234 5678",
    "-13812345678",
    "13812345678-",
    "+87 13812345678",
    "010-1234567",
    "010--62345678",
    "13８12345678",
    "010-623456789",
    "62345678",
    "010-62345678-1234567",
    "010-62345678转",
    "+86 010-62345678",
    "(010 62345678",
    "(10)62345678",
    "+86 0 62345678",
    "000 13812345678",
    "１３８12345678",
]


@pytest.mark.parametrize("phone", MOBILES)
def test_mobile_numbers_pass(phone: str) -> None:
    assert is_mobile(phone) and is_valid_phone(phone)


@pytest.mark.parametrize("phone", LANDLINES)
def test_landline_numbers_pass(phone: str) -> None:
    assert is_landline(phone) and is_valid_phone(phone)


@pytest.mark.parametrize("phone", REFUSED)
def test_other_numbers_are_refused(phone: str) -> None:
    assert not is_valid_phone(phone)
    with pytest.raises(ValueError, match="not a Chinese mobile"):
        check_phone(phone)


def _open(contact: Any) -> c.OpenCase:
    return c.OpenCase.model_validate(
        {
            "actor": DISPATCHER,
            "case_id": "C1",
            "channel": "hotline",
            "category": "noise",
            "title": "t",
            "description": "d",
            "location": LOCATION,
            "contact": contact,
        }
    )


def test_the_open_command_checks_the_phone_on_contact_phone() -> None:
    with pytest.raises(ValidationError) as e:
        _open({"name": "张三", "phone": "1-2"})
    [err] = e.value.errors()
    assert err["loc"] == ("contact", "phone") and err["type"] == PHONE_RULE and err["msg"] == PHONE_MESSAGE
    # an event-side contact handed to the command is checked too
    with pytest.raises(ValidationError):
        _open(ResidentContact(phone="call me"))
    with pytest.raises(ValidationError):
        c.OpenCase(
            actor=DISPATCHER,
            case_id="C1",
            channel="hotline",
            category="noise",
            title="t",  # type: ignore[arg-type]
            description="d",
            location=LOCATION,
            contact=ResidentContact(phone="12345"),
        )
    assert _open({"phone": None}).contact.phone is None
    assert _open({}).contact == ResidentContact()


def test_the_event_keeps_the_published_contact() -> None:
    k = Case()
    k.open_hotline()
    [received, *_] = k.events
    assert type(received.contact) is ResidentContact  # type: ignore[attr-defined]
    assert received.contact == ResidentContact(name="张三", phone="13812345678")  # type: ignore[attr-defined]
    # published events stay readable whatever phone they carry
    assert ResidentContact(phone="1-2").phone == "1-2"


def test_the_open_command_refuses_unknown_contact_fields() -> None:
    with pytest.raises(ValidationError) as e:
        _open({"phone": "13812345678", "email": "a@b.c"})
    assert e.value.errors()[0]["type"] == "extra_forbidden"


def _whistle(tasks: list[Any]) -> c.BlowWhistle:
    return c.BlowWhistle.model_validate({"actor": STREET_ACTOR, "tasks": tasks})


def test_whistle_tasks_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError) as e:
        _whistle([{"department_id": "water", "task": "fix", "priority": "high"}])
    [err] = e.value.errors()
    assert err["type"] == "extra_forbidden" and err["loc"] == ("tasks", 0, "priority")
    # the published event's task still ignores fields it does not know (old readers, new writers)
    assert WhistleTask.model_validate({"department_id": "water", "task": "fix", "priority": "high"}).task == "fix"


def test_whistle_tasks_accept_published_tasks_and_compare_equal_to_them() -> None:
    cmd = c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id="water", task="fix")])
    assert cmd.tasks == [WhistleTask(department_id="water", task="fix")]
    assert _whistle([{"department_id": "water", "task": "fix"}]) == cmd
    with pytest.raises(ValidationError):
        _whistle([{"department_id": "water", "task": "a"}, {"department_id": "water", "task": "b"}])


def test_the_whistle_event_carries_published_tasks() -> None:
    k = Case().open_hotline().to_street_handling()
    events = k.later().do(_whistle([{"department_id": "water", "task": "fix"}]))
    [blown] = [e for e in events if isinstance(e, WhistleBlown)]
    assert [type(t) for t in blown.tasks] == [WhistleTask]
    assert WhistleBlown.model_validate_json(blown.model_dump_json()) == blown
