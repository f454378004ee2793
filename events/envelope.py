"""CloudEvents 1.0 structured-mode JSON envelopes for case events, and personal-data masking.

One record value on Kafka is one CloudEvent in structured JSON mode::

    {
      "specversion": "1.0",
      "id": "C-2025-0001:3",                    # the event_id, "<case_id>:<seq>"
      "source": "/gridcase/cases",
      "type": "gridcase.case.dispatched.v1",    # gridcase.<event type>.v<schema_version>
      "subject": "C-2025-0001",                 # the case id (also the Kafka record key)
      "time": "2025-03-01T09:30:00+08:00",      # occurred_at, RFC 3339
      "datacontenttype": "application/json",
      "dataschema": "urn:gridcase:schema:case.dispatched:v1",  # events/schemas/case.dispatched.json
      "sequence": "0000000003",                 # CloudEvents sequence extension (see below)
      "partitionkey": "C-2025-0001",            # CloudEvents partitioning extension
      "piimasked": true,                        # gridcase extension: personal data masked
      "data": { ...the pydantic event, model_dump(mode="json")... }
    }

``sequence`` follows the CloudEvents sequence extension, whose value is a *string* that orders
lexicographically; it is the case's ``seq`` zero-padded to 10 digits (``int(sequence) == seq``).

The envelope is written by hand with pydantic: the ``cloudevents`` SDK would only add a dict
wrapper here and we need our own validation of ``type``/``id``/``subject`` against ``data`` anyway.

Masking (``mask_pii=True``, the department-safe topics): in ``case.received`` the contact's name
becomes ``"张*"`` (first character kept), the phone ``"138****5678"`` (first 3 and last 4 digits
kept) and ``resident_id`` is dropped; an actor acting as a resident (role ``resident``) gets
``person_id="resident"`` and a masked name. Free text (title, description, comments) is not
scrubbed: intake must not put personal data there.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.base import Actor, CaseEventBase, Role
from events.schemas import CaseEvent, CaseReceived, ResidentContact, event_type, parse_event

SPECVERSION = "1.0"
SOURCE = "/gridcase/cases"
TYPE_PREFIX = "gridcase."
DATACONTENTTYPE = "application/json"
SEQUENCE_WIDTH = 10
MASKED_RESIDENT_PERSON_ID = "resident"

_TYPE_RE = re.compile(r"^gridcase\.(?P<type>[a-z_]+\.[a-z_.]+)\.v(?P<version>[1-9][0-9]*)$")


class EnvelopeError(ValueError):
    """A record is not a valid gridcase CloudEvent; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CloudEventEnvelope(BaseModel):
    """The CloudEvents attributes gridcase writes (structured JSON mode)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    sequence: str = Field(pattern=r"^[0-9]+$")
    data: dict[str, Any]


def cloudevent_type(event: CaseEventBase) -> str:
    """``gridcase.<type>.v<schema_version>``, e.g. ``gridcase.case.dispatched.v1``."""
    return f"{TYPE_PREFIX}{event_type(event)}.v{event.schema_version}"


def _rfc3339(t: datetime) -> str:
    """RFC 3339 with an explicit offset; a naive time is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.isoformat()


def format_sequence(seq: int) -> str:
    return str(seq).zfill(SEQUENCE_WIDTH)


# --- masking -------------------------------------------------------------------------------------


def mask_name(name: str | None) -> str | None:
    """``"张三"`` → ``"张*"``, ``"欧阳娜娜"`` → ``"欧***"``; one-character names become ``"*"``."""
    if not name:
        return name
    name = name.strip()
    if len(name) <= 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """``"13812345678"`` → ``"138****5678"``: keep the first 3 and last 4 digits, mask the rest.

    Separators are dropped; numbers with fewer than 8 digits keep only their last 2.
    """
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * max(len(digits), 1)


def _mask_actor(actor: Actor) -> Actor:
    if actor.role != Role.RESIDENT:
        return actor
    return actor.model_copy(
        update={"person_id": MASKED_RESIDENT_PERSON_ID, "name": mask_name(actor.name), "unit_id": None}
    )


def mask_event(event: CaseEvent) -> CaseEvent:
    """A copy of ``event`` with the resident's personal data masked (see the module docstring)."""
    update: dict[str, Any] = {}
    masked_actor = _mask_actor(event.actor)
    if masked_actor is not event.actor:
        update["actor"] = masked_actor
    if isinstance(event, CaseReceived):
        c = event.contact
        update["contact"] = ResidentContact(resident_id=None, name=mask_name(c.name), phone=mask_phone(c.phone))
    if not update:
        return event
    return event.model_copy(update=update)


# --- encode / decode -----------------------------------------------------------------------------


def to_envelope(event: CaseEvent, *, mask_pii: bool) -> dict[str, Any]:
    """The CloudEvent (structured mode) as a JSON-ready dict."""
    if mask_pii:
        event = mask_event(event)
    etype = event_type(event)
    return {
        "specversion": SPECVERSION,
        "id": event.event_id,
        "source": SOURCE,
        "type": cloudevent_type(event),
        "subject": event.case_id,
        "time": _rfc3339(event.occurred_at),
        "datacontenttype": DATACONTENTTYPE,
        "dataschema": f"urn:gridcase:schema:{etype}:v{event.schema_version}",
        "sequence": format_sequence(event.seq),
        "partitionkey": event.case_id,
        "piimasked": mask_pii,
        "data": event.model_dump(mode="json"),
    }


def to_cloudevent(event: CaseEvent, *, mask_pii: bool) -> bytes:
    """Serialize one event as a CloudEvents 1.0 structured JSON record value (UTF-8)."""
    return json.dumps(to_envelope(event, mask_pii=mask_pii), ensure_ascii=False, separators=(",", ":")).encode()


def from_cloudevent(raw: bytes | str) -> tuple[dict[str, Any], CaseEvent]:
    """Parse and validate a record value; returns ``(envelope attributes, event)``.

    The envelope dict holds every CloudEvents attribute except ``data``. Raises
    :class:`EnvelopeError` (a ``ValueError``) with a ``reason`` of ``invalid_json``,
    ``invalid_envelope``, ``unknown_type``, ``invalid_data`` or ``mismatch``.
    """
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("invalid_json", str(exc)) from None
    if not isinstance(doc, dict):
        raise EnvelopeError("invalid_envelope", f"expected a JSON object, got {type(doc).__name__}")
    try:
        env = CloudEventEnvelope.model_validate(doc)
    except ValidationError as exc:
        raise EnvelopeError("invalid_envelope", _short(exc)) from None
    m = _TYPE_RE.match(env.type)
    if m is None:
        raise EnvelopeError("unknown_type", f"type {env.type!r} is not gridcase.<event type>.v<N>")
    try:
        event = parse_event(env.data)
    except ValidationError as exc:
        raise EnvelopeError("invalid_data", _short(exc)) from None
    problems = []
    if event_type(event) != m["type"]:
        problems.append(f"type {env.type!r} but data.type {event_type(event)!r}")
    if event.schema_version != int(m["version"]):
        problems.append(f"type version v{m['version']} but data.schema_version {event.schema_version}")
    if env.id != event.event_id:
        problems.append(f"id {env.id!r} but data.event_id {event.event_id!r}")
    if env.subject != event.case_id:
        problems.append(f"subject {env.subject!r} but data.case_id {event.case_id!r}")
    if int(env.sequence) != event.seq:
        problems.append(f"sequence {env.sequence!r} but data.seq {event.seq}")
    if problems:
        raise EnvelopeError("mismatch", "; ".join(problems))
    envelope = {k: v for k, v in doc.items() if k != "data"}
    return envelope, event


def _short(exc: ValidationError, limit: int = 5) -> str:
    errs = exc.errors()
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errs[:limit]]
    more = f" (+{len(errs) - limit} more)" if len(errs) > limit else ""
    return "; ".join(parts) + more
