"""``GET /events``: live notices of case events (server-sent events fed from Kafka)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from events.base import Role
from workers.api.auth import AuthError, Principal
from workers.api.deps import Caller, services
from workers.api.errors import ApiError, responses
from workers.api.live import LiveFeed

router = APIRouter()


@router.get("/events", tags=["live"], responses=responses(401, 403, 503), response_class=StreamingResponse)
async def events(request: Request, p: Caller) -> StreamingResponse:
    """Server-sent events: one ``case`` event per case event in the caller's jurisdiction.

    Each carries a small JSON notice (``case_id``, ``seq``, ``type``, ``occurred_at``, ``unit``,
    ``clock_kind``); fetch the case for the rest. A ``ready`` event comes first.
    """
    svc = services(request)
    if p.role == Role.RESIDENT:
        raise AuthError(403, "role.not_allowed", "the live stream is for staff; residents read their cases")
    if svc.live is None:
        raise ApiError(503, "unavailable", "live.disabled", "the live feed is not running in this process")
    stopping: threading.Event = request.app.state.stopping
    return StreamingResponse(
        sse(request, svc.live, p, stopping),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def sse(
    request: Request, feed: LiveFeed, p: Principal, stopping: threading.Event, ping_every: float = 15.0
) -> AsyncIterator[bytes]:
    """The event stream of one client; it ends when the client goes or the server is stopping."""
    async with feed.subscribe(p) as sub:
        ready = {"live": feed.healthy, "principal": p.label()}
        yield f"retry: 3000\nevent: ready\ndata: {json.dumps(ready)}\n\n".encode()
        quiet = 0.0
        while not stopping.is_set():
            try:
                message = await asyncio.wait_for(sub.queue.get(), timeout=1.0)
            except TimeoutError:
                quiet += 1.0
                if quiet >= ping_every:
                    quiet = 0.0
                    if await request.is_disconnected():
                        return
                    yield b": ping\n\n"
                continue
            quiet = 0.0
            yield f"id: {message['event_id']}\nevent: case\ndata: {json.dumps(message)}\n\n".encode()
