"""Signing webhook deliveries the Standard Webhooks way (https://www.standardwebhooks.com).

A subscription's secret reads ``whsec_<base64 of 32 random bytes>``. Each delivery carries::

    webhook-id: <the message id: a case event's id "<case_id>:<seq>", or "test_<hex>" for a ping>
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(secret bytes, "<id>.<timestamp>.<body>")>

The secret bytes are the base64 after ``whsec_``. Every attempt is signed again with its own
timestamp (receivers refuse timestamps more than a few minutes off); the id stays the same, so a
receiver deduplicates retries by ``webhook-id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh subscription secret, ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key of ``secret`` (the base64 after ``whsec_`` decoded); ``ValueError`` when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>`` of ``<id>.<timestamp>.<body>``."""
    to_sign = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: content type, the three Standard Webhooks headers."""
    return {
        "content-type": "application/json",
        "user-agent": "gridcase-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
