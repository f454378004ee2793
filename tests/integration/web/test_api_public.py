"""``/public/track`` and ``/public/track/rate`` on the real stack: the right pair gives the progress,
a wrong pair and an unknown case the same 404, repeated failures a 429, and the online rating is
the domain's callback, accepted only while the case awaits it.

The limiter counts per client address; the API trusts ``X-Forwarded-For`` from 127.0.0.1 (uvicorn's
default), so each test looks up from an address of its own.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.integration.test_api_support import ApiStack, act, drive, lifecycle, open_case

pytestmark = pytest.mark.integration

CITY = ZoneInfo("Asia/Shanghai")
#: Everything of the lifecycle's bodies and people a resident must never read.
INTERNAL = (
    "张三",
    "13812345678",
    "夜间施工执法",
    "已责令停工",
    "夜间施工已停止",
    "op-1",
    "street-1",
    "env-1",
    "grid-1",
)


def address() -> dict[str, str]:
    """A client address of this test's own (the limiter's key)."""
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"}


def track(http: httpx.Client, case_id: str, last4: str, headers: dict[str, str]) -> httpx.Response:
    return http.post("/public/track", json={"case_id": case_id, "phone_last4": last4}, headers=headers)


def rate(http: httpx.Client, case_id: str, last4: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {"case_id": case_id, "phone_last4": last4, "rating": "satisfied", **body}
    return http.post("/public/track/rate", json=payload, headers=headers)


def new_case(web: ApiStack, steps: int = 0, **overrides: Any) -> str:
    with web.client("op-1") as op:
        cid = open_case(op, web.geo, **overrides)
    drive(web, cid, lifecycle(web.geo)[:steps])
    return cid


def test_the_right_pair_gives_the_progress_and_the_expected_date(web: ApiStack) -> None:
    cid = new_case(web, steps=7)  # handling, the whistle's department done
    ip = address()
    with web.client() as http:
        r = track(http, cid, "5678", ip)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "handling" and body["status_zh"] == "正在办理"
    kinds = [s["kind"] for s in body["steps"]]
    assert kinds == [
        "received",
        "registered",
        "dispatched",
        "accepted",
        "contacted",
        "whistle",
        "reported_in",
        "task_completed",
    ]
    said = " ".join(s["text_zh"] for s in body["steps"])
    assert "街道" in said and "已召集" in said  # units by their registry names
    with web.client("op-1") as op:
        case = op.get(f"/cases/{cid}").json()
    resolve = next(c for c in case["clocks"] if c["kind"] == "resolve" and c["stopped_at"] is None)
    due = datetime.fromisoformat(resolve["due_at"]).astimezone(CITY).date().isoformat()
    assert body["expected"] == {
        "kind": "resolve",
        "due_date": due,
        "paused": False,
        "label_zh": "预计办结日期",
        "label_en": "expected to be resolved by",
    }
    assert body["rating_open"] is False
    text = json.dumps(body, ensure_ascii=False)
    assert not [s for s in INTERNAL if s in text], text
    assert web.geo.street not in text and "environment" not in text  # unit ids neither


def test_a_wrong_pair_and_an_unknown_case_get_the_same_404(web: ApiStack) -> None:
    cid = new_case(web)
    with web.client() as http:
        wrong = track(http, cid, "0000", address())
        unknown = track(http, "CFFFFFFFFFFFF", "5678", address())
        other_phone = new_case(web, contact={"name": "李四", "phone": "13900001111"})
        crossed = track(http, other_phone, "5678", address())
    assert wrong.status_code == unknown.status_code == crossed.status_code == 404
    assert wrong.json() == unknown.json() == crossed.json()
    assert wrong.json()["rule"] == "track.not_found"
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())


def test_repeated_failures_from_one_address_are_refused_with_retry_after(web: ApiStack) -> None:
    cid = new_case(web)
    ip = address()
    with web.client() as http:
        for i in range(5):
            assert track(http, f"CNOPE{i:08d}", "1111", ip).status_code == 404
        blocked = track(http, cid, "5678", ip)  # the right pair too, while blocked
        elsewhere = track(http, cid, "5678", address())
    assert blocked.status_code == 429 and blocked.json()["rule"] == "track.too_many_attempts"
    assert 500 <= int(blocked.headers["Retry-After"]) <= 600
    assert elsewhere.status_code == 200


def test_repeated_failures_on_one_case_block_it_from_any_address(web: ApiStack) -> None:
    cid = new_case(web)
    with web.client() as http:
        for _ in range(5):
            assert track(http, cid, "0000", address()).status_code == 404
        assert track(http, cid, "5678", address()).status_code == 429
        assert rate(http, cid, "5678", address()).status_code == 429


def test_the_rating_is_accepted_only_when_the_callback_is_due(web: ApiStack) -> None:
    cid = new_case(web, steps=8)  # resolved, not yet verified
    ip = address()
    with web.client() as http:
        early = rate(http, cid, "5678", ip)
        assert early.status_code == 409 and early.json()["rule"] == "rating.not_open"
        drive(web, cid, lifecycle(web.geo)[8:9])  # the grid worker verifies
        assert track(http, cid, "5678", ip).json()["rating_open"] is True
        assert rate(http, cid, "5678", ip, rating="unreachable").status_code == 422
        r = rate(http, cid, "5678", ip, rating="basically_satisfied", comment="处理及时")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "called_back" and r.json()["rating"] == "basically_satisfied"
        assert r.json()["rating_open"] is False
        again = rate(http, cid, "5678", ip)
        assert again.status_code == 409 and again.json()["rule"] == "rating.not_open"
    with web.client("op-1") as op:
        case = op.get(f"/cases/{cid}").json()
        assert case["status"] == "called_back"
        rated = [e for e in case["timeline"] if e["type"] == "case.callback_recorded"]
        assert len(rated) == 1 and rated[0]["actor"] == f"resident:public:{cid}"
        assert not [c for c in case["clocks"] if c["kind"] == "callback" and c["stopped_at"] is None]
        refused = act(op, cid, "callback", {"rating": "satisfied"})  # the hotline's callback is done too
        assert refused.status_code == 409 and refused.json()["rule"] == "status.not_allowed"
        assert act(op, cid, "close").status_code == 200


def test_an_unsatisfied_resident_reopens_the_case(web: ApiStack) -> None:
    cid = new_case(web, steps=9)
    with web.client() as http:
        r = rate(http, cid, "5678", address(), rating="unsatisfied", comment="噪音仍在")
    assert r.status_code == 200 and r.json()["status"] == "handling"
    assert r.json()["steps"][-1]["kind"] == "reopened"
    assert r.json()["expected"]["kind"] == "resolve"


def test_a_logged_in_resident_rates_their_own_web_case_and_no_other(web: ApiStack) -> None:
    with web.client("resident-1") as res:
        cid = open_case(res, web.geo, channel="web", contact={"phone": "13812345678"})
    drive(web, cid, lifecycle(web.geo)[:9])
    with web.client("resident-2") as other:
        assert act(other, cid, "callback", {"rating": "satisfied"}).status_code == 403
    with web.client("resident-1") as res:
        assert "callback" in {a["name"] for a in res.get(f"/cases/{cid}/actions").json()["actions"]}
        bad = act(res, cid, "callback", {"rating": "unreachable"})
        assert bad.status_code == 409 and bad.json()["rule"] == "callback.resident_rating"
        assert act(res, cid, "callback", {"rating": "satisfied"}).status_code == 200
