"""What the notifier and the webhooks did: one event per delivery outcome.

These are not case events (they carry no ``seq`` of the case's own log): they go to the
notifications topic (:func:`events.topics.topic_names` ``.notifications``), keyed by case id, and
the read model shows them on the case's timeline. The recipient is always masked (a phone as
``138****5678``, an e-mail as ``w***@example.org``); the plain address never leaves the notifier.
Like every published schema, fields are only ever added, with defaults.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from events.envelope import mask_phone

RecipientKind = Literal["resident", "staff", "webhook"]
ChannelName = Literal["email", "sms", "chat", "webhook"]


class NotificationEventBase(BaseModel):
    """Fields every notification event carries."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    #: ``notification:<delivery id>:<outcome>`` — one per outcome of one delivery.
    event_id: str
    delivery_id: str
    case_id: str
    #: The case event the message was about (``<case_id>:<seq>``) and its type.
    source_event_id: str
    source_type: str
    recipient_kind: RecipientKind
    #: Who: ``resident``, a user (``user:u-12``), a unit (``department:D-ENV``) or a webhook (``webhook:7``).
    recipient: str
    #: The address, masked.
    address: str
    channel: ChannelName
    template: str
    locale: str = "zh-CN"
    attempts: int = Field(ge=0)
    occurred_at: datetime


class NotificationSent(NotificationEventBase):
    """The message was handed over to the channel (the SMTP server, the SMS gateway, the robot)."""

    type: Literal["notification.sent"] = "notification.sent"
    #: From the source event to the hand-over, in milliseconds.
    delay_ms: int = Field(ge=0)
    receipt: str = ""


class NotificationFailed(NotificationEventBase):
    """The message will not be delivered: a permanent refusal, attempts exhausted, a template error,
    or the recipient opted out (``reason``)."""

    type: Literal["notification.failed"] = "notification.failed"
    reason: str
    detail: str = ""


NotificationEvent = Annotated[NotificationSent | NotificationFailed, Field(discriminator="type")]

_ADAPTER: TypeAdapter[NotificationSent | NotificationFailed] = TypeAdapter(NotificationEvent)


def to_bytes(event: NotificationSent | NotificationFailed) -> bytes:
    """The event as JSON bytes (the record's value)."""
    return event.model_dump_json().encode()


def from_bytes(raw: bytes | str) -> NotificationSent | NotificationFailed:
    """Parse a record's value (raises ``pydantic.ValidationError`` or ``ValueError``)."""
    return _ADAPTER.validate_python(json.loads(raw))


def mask_address(channel: str, address: str) -> str:
    """An address as it may be shown: phones and e-mail masked, robot and webhook URLs cut to their host."""
    if not address:
        return ""
    if channel == "sms":
        return mask_phone(address) or ""
    if channel == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"
    if channel in ("chat", "webhook"):
        from urllib.parse import urlsplit

        host = urlsplit(address).hostname or ""
        return f"{host}/…" if host else "…"
    return "***"
