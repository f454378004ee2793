"""``POST /public/track`` and ``/public/track/rate`` in process (the cases in memory, decided by the
domain), and the limiter of failed look-ups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from events.schemas import Rating
from tests.unit.test_api_routes import Api, make_api
from workers.api.routes.public import FailureLimiter, phone_tail
from workflows.domain.state import CaseStatus

PHONE = "13812345678"  # the phone of test_api_routes' intake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


@pytest.fixture
def clock(api: Api) -> Clock:
    clock = Clock()
    api.http.app.state.track_limiter = FailureLimiter(clock=clock)  # type: ignore[attr-defined]
    return clock


def track(api: Api, case_id: str, last4: str, **headers: str) -> Any:
    return api.http.post("/public/track", json={"case_id": case_id, "phone_last4": last4}, headers=headers)


def rate(api: Api, case_id: str, last4: str, rating: str = "satisfied", comment: str | None = None) -> Any:
    body = {"case_id": case_id, "phone_last4": last4, "rating": rating, "comment": comment}
    return api.http.post("/public/track/rate", json=body)


def to_verified(api: Api, case_id: str) -> None:
    for user, action, body in [
        ("op-1", "register", {}),
        ("op-1", "dispatch", {"unit": {"kind": "street", "id": "S-1"}}),
        ("street-1", "accept", {}),
        ("street-1", "contact", {"note": "已电话联系张三"}),
        ("street-1", "resolve", {"notes": "已处理，联系人张三"}),
    ]:
        r = api.act(case_id, action, body, user=user)
        assert r.status_code == 200, r.text
    # the grid worker of G-101 verifies (no such user in the fixture: decided directly)
    from events.base import Actor, Role
    from workflows.domain import commands as c

    grid = Actor(role=Role.GRID_WORKER, person_id="gw", unit_id="G-101")
    api.cases._apply(case_id, c.VerifyCase(actor=grid, passed=True))
    assert api.cases.states[case_id].status == CaseStatus.VERIFIED


def test_the_right_pair_gives_the_progress_in_plain_words(api: Api) -> None:
    cid = api.open()
    r = track(api, cid, "5678")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["case_id"] == cid and body["status"] == "received"
    assert body["status_zh"] == "已受理，等待审核"
    assert [s["kind"] for s in body["steps"]] == ["received"]
    assert body["rating_open"] is False and body["expected"] is None
    api.act(cid, "register")
    api.act(cid, "dispatch", {"unit": {"kind": "street", "id": "S-1"}})
    body = track(api, cid, "5678").json()
    assert body["expected"]["kind"] == "accept" and body["expected"]["due_date"]
    assert "张三" not in json.dumps(body, ensure_ascii=False) and PHONE not in json.dumps(body)


def test_a_wrong_pair_and_an_unknown_case_get_the_same_answer(api: Api) -> None:
    cid = api.open()
    wrong = track(api, cid, "0000")
    unknown = track(api, "C000000000000", "5678")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.json()["rule"] == "track.not_found"
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"case_id": "C1", "phone_last4": "567"}, "body.phone_last4"),
        ({"case_id": "C1", "phone_last4": "56a8"}, "body.phone_last4"),
        ({"case_id": "../x", "phone_last4": "5678"}, "body.case_id"),
        ({"phone_last4": "5678"}, "body.case_id"),
    ],
)
def test_malformed_input_is_a_422_naming_the_field(api: Api, body: dict[str, str], field: str) -> None:
    r = api.http.post("/public/track", json=body)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {field}


def test_repeated_failures_are_refused_per_address_until_the_window_passes(api: Api, clock: Clock) -> None:
    cid = api.open()
    for _ in range(5):
        assert track(api, f"C{_:012d}", "1111").status_code == 404
    r = track(api, cid, "5678")  # even the right pair, from this address
    assert r.status_code == 429 and r.json()["rule"] == "track.too_many_attempts"
    assert 1 <= int(r.headers["Retry-After"]) <= 600
    clock.now += 601
    assert track(api, cid, "5678").status_code == 200


def test_repeated_failures_on_one_case_block_it_from_every_address(api: Api, clock: Clock) -> None:
    cid = api.open()
    limiter: FailureLimiter = api.http.app.state.track_limiter  # type: ignore[attr-defined]
    for i in range(5):
        limiter.fail(f"ip:10.0.0.{i}", f"case:{cid}")
    assert track(api, cid, "5678").status_code == 429
    other = api.open()
    assert track(api, other, "5678").status_code == 200  # another case is not blocked


def test_the_rating_is_accepted_only_when_the_callback_is_due(api: Api) -> None:
    cid = api.open()
    early = rate(api, cid, "5678")
    assert early.status_code == 409 and early.json()["rule"] == "rating.not_open"
    assert api.cases.states[cid].status == CaseStatus.RECEIVED
    to_verified(api, cid)
    assert track(api, cid, "5678").json()["rating_open"] is True
    assert rate(api, cid, "0000").status_code == 404  # the pair is checked first
    r = rate(api, cid, "5678", "basically_satisfied", "  谢谢  ")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "called_back" and body["rating"] == "basically_satisfied" and not body["rating_open"]
    sent = api.cases.sent[-1]
    assert sent.actor.role == "resident" and sent.actor.person_id == f"public:{cid}"
    assert sent.comment == "谢谢" and sent.resolved is True  # type: ignore[attr-defined]
    again = rate(api, cid, "5678")
    assert again.status_code == 409 and again.json()["rule"] == "rating.not_open"


def test_unsatisfied_reopens_and_unreachable_is_not_a_residents_rating(api: Api) -> None:
    cid = api.open()
    to_verified(api, cid)
    assert rate(api, cid, "5678", "unreachable").status_code == 422
    r = rate(api, cid, "5678", "unsatisfied", "噪音仍在")
    assert r.status_code == 200 and r.json()["status"] == "handling"
    assert api.cases.states[cid].rating == Rating.UNSATISFIED and api.cases.states[cid].reopen_count == 1
    assert api.cases.sent[-1].resolved is False  # type: ignore[attr-defined]


def test_the_public_routes_need_no_token_and_ignore_one(api: Api) -> None:
    cid = api.open()
    assert track(api, cid, "5678", Authorization="Bearer nonsense").status_code == 200


# --- the pieces -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "tail"),
    [
        ("13812345678", "5678"),
        ("138 1234 5678", "5678"),
        ("+86-138-1234-5678", "5678"),
        ("010-62345678", "5678"),
        ("010-62345678-123", "5678"),
        ("010-62345678转123", "5678"),
        ("010 62345678 ext 12", "5678"),
        ("(0471) 6234567", "4567"),
        (None, None),
        ("", None),
    ],
)
def test_the_last_four_digits_of_a_phone(phone: str | None, tail: str | None) -> None:
    assert phone_tail(phone) == tail


def test_the_limiter_counts_failures_in_a_sliding_window() -> None:
    clock = Clock()
    lim = FailureLimiter(allowed=3, window=60, clock=clock)
    for _ in range(2):
        lim.fail("a")
        clock.now += 10
    assert lim.retry_after("a") is None
    lim.fail("a")
    assert lim.retry_after("a") == 40  # the first failure leaves the window at 1060
    assert lim.retry_after("b") is None and lim.retry_after("b", "a") == 40
    clock.now += 40
    assert lim.retry_after("a") is None


def test_the_limiter_forgets_the_oldest_keys_beyond_its_bound() -> None:
    lim = FailureLimiter(allowed=1, window=60, clock=Clock(), max_keys=3)
    for key in "abcd":
        lim.fail(key)
    assert lim.retry_after("a") is None and lim.retry_after("d") is not None


# --- internal review, interim replies, corrections ------------------------------------------------

#: A reason or note of the staff's own: never on the resident's page.
INTERNAL = "内部：承办人敷衍，联系张三"


def _handling(api: Api, cid: str, unit: dict[str, str], user: str) -> None:
    for who, action, body in [
        ("op-1", "register", {}),
        ("op-1", "dispatch", {"unit": unit}),
        (user, "accept", {}),
        (user, "contact", {"note": INTERNAL}),
    ]:
        r = api.act(cid, action, body, user=who)
        assert r.status_code == 200, r.text


def _page(api: Api, cid: str) -> tuple[Any, str]:
    r = track(api, cid, "5678")
    assert r.status_code == 200, r.text
    return r.json(), json.dumps(r.json(), ensure_ascii=False)


def test_the_review_reaches_the_page_without_the_reviewer_the_notes_or_the_reason(api: Api) -> None:
    from events.base import Actor, Role
    from workflows.domain import commands as c

    cid = api.open()
    _handling(api, cid, {"kind": "department", "id": "environment"}, "env-1")
    assert api.act(cid, "submit-reply", {"notes": INTERNAL}, user="env-1").status_code == 200
    body, text = _page(api, cid)
    assert body["status"] == "handling" and body["status_zh"] == "办理结果审核中"
    assert body["steps"][-1]["kind"] == "reply_submitted"
    reviewer = Actor(role=Role.DEPARTMENT, person_id="env-chief", unit_id="environment", name="吴国平")
    api.cases._apply(cid, c.SendBack(actor=reviewer, reason=INTERNAL))
    assert api.act(cid, "submit-reply", {"notes": INTERNAL}, user="env-1").status_code == 200
    api.cases._apply(cid, c.ApproveReply(actor=reviewer, note=INTERNAL))
    body, text = _page(api, cid)
    kinds = [s["kind"] for s in body["steps"]]
    assert kinds[kinds.index("contacted") + 1 :] == [
        "reply_submitted",
        "reply_sent_back",
        "reply_submitted",
        "reply_approved",
        "resolved",
    ]
    assert body["status"] == "resolved" and body["expected"]["kind"] == "verify"
    for secret in ("内部", "张三", "env-1", "env-chief", "吴国平", "environment", PHONE):
        assert secret not in text, secret


def test_the_interim_reply_reaches_the_resident_as_written(api: Api) -> None:
    cid = api.open(category="illegal-construction")
    _handling(api, cid, {"kind": "street", "id": "S-1"}, "street-1")
    r = api.act(cid, "interim-reply", {"text": "已约谈施工方，本月底前完成整改"}, user="street-1")
    assert r.status_code == 200, r.text
    body, text = _page(api, cid)
    (step,) = [s for s in body["steps"] if s["kind"] == "interim_reply"]
    assert step["text_zh"].endswith("阶段性答复（第 1 次）：已约谈施工方，本月底前完成整改")
    assert step["text_en"].startswith("interim reply #1 from ")
    assert body["expected"]["kind"] == "resolve"  # the resolution date, not the next interim reply
    assert "内部" not in text and "张三" not in text and "street-1" not in text


def test_corrections_reach_the_page_as_fixed_words(api: Api) -> None:
    cid = api.open()
    _handling(api, cid, {"kind": "street", "id": "S-1"}, "street-1")
    before, _ = _page(api, cid)
    for action, body in [
        ("set-urgency", {"urgency": "urgent", "reason": INTERNAL}),
        ("reclassify", {"category": "illegal-construction", "reason": INTERNAL}),
    ]:
        r = api.act(cid, action, body)
        assert r.status_code == 200, r.text
    after, text = _page(api, cid)
    kinds = [s["kind"] for s in after["steps"]]
    assert {"urgency_raised", "reclassified", "deadline_changed"} <= set(kinds)
    assert after["expected"]["due_date"] < before["expected"]["due_date"]  # urgent: due sooner
    assert "内部" not in text and "张三" not in text
    moved = api.act(cid, "relocate", {"location": {"grid_id": "G-201", "address": "张三家楼下"}, "reason": INTERNAL})
    assert moved.status_code == 200, moved.text
    body, text = _page(api, cid)
    assert body["status"] == "registered" and body["steps"][-1]["kind"] == "relocated"
    assert body["expected"] is None
    assert "张三" not in text and "G-201" not in text and "内部" not in text
