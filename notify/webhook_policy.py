"""What an attempt's answer means for the delivery and for its subscription: pure rules, no I/O.

=====================================  ===============================================================
answer                                 then
=====================================  ===============================================================
2xx                                    ``delivered``
410 Gone                               ``dead``, and the subscription is disabled at once (``gone``)
408, 429, 5xx, a timeout, no           ``failed``: tried again after :func:`notify.retry.backoff_s`;
connection                             ``dead`` after ``max_attempts``
any other status (3xx, 4xx)            ``failed``, ``dead`` after ``client_error_attempts`` (the
                                       receiver refuses it: trying for a day will not help)
=====================================  ===============================================================

Every failed attempt counts against the subscription; a delivered one resets the count. A
subscription is disabled (``disabled_reason`` says why) when ``disable_after_failures`` attempts in
a row failed, or when every attempt has failed for ``disable_after_s`` seconds (default 24 h).
Its queued deliveries wait, unsent, until it is enabled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from notify.retry import backoff_s

Status = Literal["pending", "delivered", "failed", "dead"]
#: Deliveries still to be sent (the backlog).
OPEN_STATUSES: tuple[Status, ...] = ("pending", "failed")
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed", "dead")

RETRYABLE_STATUS_CODES = frozenset({408, 429})


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timeouts, retries and when to give up (``GRIDCASE_WEBHOOKS_*`` settings)."""

    timeout_s: float = 5.0
    max_attempts: int = 15
    client_error_attempts: int = 3
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    disable_after_failures: int = 50
    disable_after_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_attempts < 1 or self.client_error_attempts < 1:
            raise ValueError("timeout_s > 0, max_attempts >= 1 and client_error_attempts >= 1")
        if self.disable_after_failures < 1 or self.disable_after_s <= 0:
            raise ValueError("disable_after_failures >= 1 and disable_after_s > 0")


@dataclass(frozen=True)
class Answer:
    """How one attempt ended: an HTTP status, or an error before any status (``timeout``, ``connect``)."""

    status_code: int | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def reason(self) -> str:
        """A short label for metrics: ``2xx``, ``410``, ``4xx``, ``5xx``, ``timeout``, ``connect``..."""
        if self.status_code is None:
            return "timeout" if self.timed_out else "connect"
        if self.status_code == 410:
            return "410"
        return f"{self.status_code // 100}xx"


@dataclass(frozen=True)
class Decision:
    """What becomes of the delivery after attempt number ``attempt``."""

    status: Status
    retry_in_s: float | None = None
    disable: str | None = None  # the subscription is disabled at once, for this reason

    @property
    def failed(self) -> bool:
        return self.status != "delivered"


def decide(attempt: int, answer: Answer, policy: DeliveryPolicy, *, key: str = "") -> Decision:
    """The delivery's next status after attempt ``attempt`` (1 = the first) answered ``answer``."""
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        return Decision("delivered")
    if code == 410:
        return Decision("dead", disable="gone: the endpoint answered 410 Gone")
    retryable = code is None or code >= 500 or code in RETRYABLE_STATUS_CODES
    limit = policy.max_attempts if retryable else policy.client_error_attempts
    if attempt >= limit:
        return Decision("dead")
    wait = backoff_s(attempt, base_s=policy.backoff_base_s, cap_s=policy.backoff_cap_s, key=key)
    return Decision("failed", retry_in_s=wait)


def disable_reason(
    consecutive_failures: int, failing_since: datetime | None, now: datetime, policy: DeliveryPolicy
) -> str | None:
    """Why a subscription with this failure record is disabled now, or ``None`` when it stays enabled."""
    if consecutive_failures >= policy.disable_after_failures:
        return f"failing: {consecutive_failures} attempts in a row failed"
    if failing_since is not None and consecutive_failures > 0:
        span = now - failing_since
        if span >= timedelta(seconds=policy.disable_after_s):
            hours = span.total_seconds() / 3600
            return f"failing: every attempt failed for {hours:.1f} h"
    return None
