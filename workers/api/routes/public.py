"""The resident's progress page, without a login: ``/public/track`` (look up) and ``/public/track/rate``.

A resident identifies their case by its number and the last four digits of the contact phone
given at intake. Nothing else is needed and nothing else is shown: the answer is the progress in
plain words (:mod:`workers.api.progress`), never a name, a phone, a staff member, a unit id or a note.

* A wrong pair and a case that does not exist get the **same** 404 (rule ``track.not_found``), so
  the page cannot tell anyone which case numbers exist.
* Failed look-ups are limited per client address and per case number: after
  :data:`FAILURES_ALLOWED` failures within :data:`WINDOW_SECONDS`, both answer ``429`` (rule
  ``track.too_many_attempts``) with ``Retry-After`` until the oldest failure leaves the window. The
  count is kept in this API process (several processes behind a balancer each count their own).
  The client address is the one uvicorn gives: the connection's peer, or ``X-Forwarded-For`` when
  the peer is a proxy it trusts (127.0.0.1 by default, ``FORWARDED_ALLOW_IPS`` for others);
  behind an untrusted proxy every resident would share the proxy's count.
* The online rating is the domain's own callback (回访), by the resident: the case must await its
  callback (status ``verified``); the actor is the case's resident (:func:`resident_person_id`), and
  ``decide`` checks both again.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from events.base import Actor, Role
from events.schemas import Rating
from workers.api.deps import CASE_ID, Services, services
from workers.api.errors import ApiError, ErrorBody, InvalidInput
from workers.api.progress import Progress, progress, rating_open
from workers.api.views import case_names, name_keys
from workers.case_client import ActionRefused
from workflows.domain.commands import RecordCallback
from workflows.domain.contact import is_landline
from workflows.domain.decide import resident_person_id
from workflows.domain.state import CaseState, CaseStatus

router = APIRouter(prefix="/public", tags=["public"])

NOT_FOUND = "track.not_found"
TOO_MANY = "track.too_many_attempts"
RATING_NOT_OPEN = "rating.not_open"

#: Failed look-ups allowed per client address and per case number within :data:`WINDOW_SECONDS`.
FAILURES_ALLOWED = 5
WINDOW_SECONDS = 600.0
#: Most keys (addresses and case numbers) the limiter remembers; the oldest are forgotten first.
MAX_KEYS = 20_000

_NOT_FOUND_MESSAGE = "no case matches this case number and these last four digits of the phone"


# --- bodies --------------------------------------------------------------------------------------


class TrackQuery(BaseModel):
    case_id: str = Field(pattern=CASE_ID, max_length=64, description="The case number, e.g. C1A2B3C4D5E6")
    phone_last4: str = Field(pattern=r"^\d{4}$", description="The last four digits of the phone given at intake")


class RateBody(TrackQuery):
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"] = Field(
        description="满意 / 基本满意 / 不满意 (unsatisfied reopens the case)"
    )
    comment: str | None = Field(default=None, max_length=500, description="What the resident wants to add")


class TrackStep(BaseModel):
    at: datetime
    kind: str = Field(description="received, dispatched, accepted, whistle, resolved, verified, rated, closed...")
    text_zh: str
    text_en: str


class TrackExpected(BaseModel):
    kind: str = Field(description="The clock that sets the date: resolve, verify, callback, accept...")
    due_date: date | None = Field(description="The due date in the city's local time; none while the clock is paused")
    paused: bool
    label_zh: str
    label_en: str


class TrackProgress(BaseModel):
    """A case's progress as its resident reads it (no names, phones, staff, unit ids or notes)."""

    case_id: str
    status: CaseStatus
    status_zh: str
    status_en: str
    steps: list[TrackStep]
    expected: TrackExpected | None
    rating_open: bool = Field(description="Whether the resident may rate the outcome online now")
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"] | None = Field(
        description="The rating given at the last callback, if any"
    )
    finished: bool


def track_view(p: Progress) -> TrackProgress:
    return TrackProgress(
        case_id=p.case_id,
        status=p.status,
        status_zh=p.status_words.zh,
        status_en=p.status_words.en,
        steps=[TrackStep(at=s.at, kind=s.kind, text_zh=s.zh, text_en=s.en) for s in p.steps],
        expected=None
        if p.expected is None
        else TrackExpected(
            kind=p.expected.kind.value,
            due_date=p.expected.due_date,
            paused=p.expected.paused,
            label_zh=p.expected.zh,
            label_en=p.expected.en,
        ),
        rating_open=p.rating_open,
        rating=p.rating.value if p.rating is not None else None,
        finished=p.finished,
    )


# --- the phone check -----------------------------------------------------------------------------

_WORDED_EXTENSION = re.compile(r"\s*(?:转|ext\.?)\s*\d{1,6}$", re.IGNORECASE)
_HYPHEN_EXTENSION = re.compile(r"(.*\d)-\d{1,6}")


def _main_number(phone: str) -> str | None:
    """A landline's number without its extension (``010-62345678-123`` → ``010-62345678``), if it has one."""
    text = phone.strip()
    worded = _WORDED_EXTENSION.search(text)
    if worded is not None:
        return text[: worded.start()]
    hyphen = _HYPHEN_EXTENSION.fullmatch(text)
    if hyphen is not None and is_landline(text) and is_landline(hyphen.group(1)):
        return hyphen.group(1)
    return None


def phone_tail(phone: str | None) -> str | None:
    """The last four digits of ``phone`` as a resident gives them: of the number itself, without a
    landline's extension (``010-62345678-123`` and ``010-62345678转123`` end in ``5678``)."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", _main_number(phone) or phone)
    return digits[-4:] if len(digits) >= 4 else None


def phone_matches(state: CaseState, last4: str) -> bool:
    """Whether ``last4`` ends the case's contact phone (compared in constant time)."""
    tail = phone_tail(state.contact.phone)
    return tail is not None and hmac.compare_digest(tail.encode(), last4.encode())


# --- the limiter ---------------------------------------------------------------------------------


class FailureLimiter:
    """Failed attempts per key in a sliding window: after ``allowed`` failures within ``window``
    seconds a key is blocked until its oldest failure leaves the window. Kept in memory."""

    def __init__(
        self,
        allowed: int = FAILURES_ALLOWED,
        window: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.allowed, self.window, self.clock, self.max_keys = allowed, window, clock, max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until every key may try again, or ``None`` when none is blocked."""
        now = self.clock()
        waits = [q[0] + self.window - now for key in keys if len(q := self._recent(key, now)) >= self.allowed]
        return max(1, math.ceil(max(waits))) if waits else None

    def fail(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            q = self._recent(key, now)
            if key not in self._failures:
                self._failures[key] = q
            q.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)


def limiter_of(request: Request) -> FailureLimiter:
    """The app's limiter (one per app, made on first use)."""
    state = request.app.state
    found = getattr(state, "track_limiter", None)
    if not isinstance(found, FailureLimiter):
        found = FailureLimiter()
        state.track_limiter = found
    return found


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(seconds: int) -> JSONResponse:
    body = ErrorBody(
        error="too_many_requests",
        rule=TOO_MANY,
        message=f"too many failed look-ups: try again in {seconds} s",
    )
    return JSONResponse(body.model_dump(), status_code=429, headers={"Retry-After": str(seconds)})


# --- the case ------------------------------------------------------------------------------------


async def _find(svc: Services, case_id: str) -> CaseState | None:
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    try:
        return await svc.cases.find(case_id)
    except RPCError as err:
        raise ApiError(503, "unavailable", "temporal.unavailable", f"Temporal: {err.message}") from None
    except WorkflowQueryFailedError as err:
        raise ApiError(503, "unavailable", "temporal.query_failed", str(err)) from None


async def _verified(request: Request, q: TrackQuery) -> CaseState | JSONResponse:
    """The case when the pair is right; a 429 answer while blocked; the one 404 otherwise."""
    limiter = limiter_of(request)
    keys = (f"ip:{_client(request)}", f"case:{q.case_id.upper()}")
    wait = limiter.retry_after(*keys)
    if wait is not None:
        return _too_many(wait)
    state = await _find(services(request), q.case_id)
    if state is None or not phone_matches(state, q.phone_last4):
        limiter.fail(*keys)
        raise ApiError(404, "not_found", NOT_FOUND, _NOT_FOUND_MESSAGE)
    return state


async def _progress(svc: Services, state: CaseState) -> TrackProgress:
    events = await svc.cases.timeline(state.case_id)
    names = await asyncio.to_thread(case_names, svc.registry, name_keys(state, events))
    return track_view(progress(state, events, names))


_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "No case with this number and these phone digits (the same answer for both)",
    },
    422: {"model": InvalidInput, "description": "A malformed case number or not four digits"},
    429: {"model": ErrorBody, "description": "Too many failed look-ups from this address or for this case"},
    503: {"model": ErrorBody, "description": "A backing service is unavailable"},
}


# --- routes --------------------------------------------------------------------------------------


@router.post("/track", response_model=TrackProgress, responses=_RESPONSES)
async def track(request: Request, body: TrackQuery) -> TrackProgress | JSONResponse:
    """A case's progress for its resident: the status and steps in plain words, the date to expect,
    and whether the online rating is open. No login; the case number and the last four digits of
    the contact phone identify the case."""
    found = await _verified(request, body)
    if isinstance(found, JSONResponse):
        return found
    return await _progress(services(request), found)


@router.post(
    "/track/rate",
    response_model=TrackProgress,
    responses={**_RESPONSES, 409: {"model": ErrorBody, "description": "The rating is not open for this case now"}},
)
async def rate(request: Request, body: RateBody) -> TrackProgress | JSONResponse:
    """The resident's online rating (回访) of the outcome, while the case awaits its callback:
    满意 / 基本满意 / 不满意 (unsatisfied reopens the case). Answers the new progress."""
    found = await _verified(request, body)
    if isinstance(found, JSONResponse):
        return found
    state = found
    svc = services(request)
    if not rating_open(state):
        raise ApiError(
            409,
            "refused",
            RATING_NOT_OPEN,
            "the online rating opens when the case is resolved, checked and awaits your rating (回访)",
        )
    rating = Rating(body.rating)
    command = RecordCallback(
        actor=Actor(role=Role.RESIDENT, person_id=resident_person_id(state)),
        rating=rating,
        resolved=rating != Rating.UNSATISFIED,
        comment=body.comment.strip() if body.comment and body.comment.strip() else None,
    )
    # the case's position as read: a double click sends the same update id, and applies once
    request_id = f"{resident_person_id(state)}:rate-{state.seq}"
    try:
        await svc.cases.act(state.case_id, command, request_id)
    except ActionRefused as err:
        raise ApiError(409, "refused", err.rule, err.message) from None
    after = await _find(svc, state.case_id)
    return await _progress(svc, after or state)
