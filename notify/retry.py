"""When to try a delivery again: exponential backoff with a cap and a deterministic jitter."""

from __future__ import annotations

import hashlib


def backoff_s(attempt: int, *, base_s: float = 2.0, cap_s: float = 600.0, key: str = "") -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first try failed).

    ``base_s * 2**(attempt-1)``, capped at ``cap_s``, minus up to 20 % taken from a hash of ``key``
    (the delivery's id), so that deliveries that failed together do not all come back together,
    and the same delivery always waits the same (a test can predict it).
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    raw = min(cap_s, base_s * 2 ** min(attempt - 1, 30))
    frac = int.from_bytes(hashlib.blake2b(f"{key}:{attempt}".encode(), digest_size=2).digest(), "big") / 65535
    return raw * (1.0 - 0.2 * frac)
