"""An action whose update timed out or was cancelled (a busy server, an API stopping) is a 503 the
caller retries with the same Request-Id, never a 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from workers.api.errors import UPDATE_UNCONFIRMED, install_error_handlers


def test_an_unconfirmed_update_is_a_retryable_503_naming_the_rule() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/act")
    async def act() -> None:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()

    r = TestClient(app, raise_server_exceptions=False).post("/act")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    body = r.json()
    assert body["rule"] == UPDATE_UNCONFIRMED == "temporal.update_unconfirmed"
    assert "Request-Id" in body["message"]
