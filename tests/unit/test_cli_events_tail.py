"""``gridcase events tail | head``: a reader that goes away stops the tail; no event is dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from events.consumer import ConsumeStats, StopConsuming
from workers import cli_events
from workers.cli import app


def test_a_closed_pipe_stops_the_tail_instead_of_failing_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[str] = []

    def fake_consume(handler: Any, **_kw: Any) -> ConsumeStats:
        try:
            handler({}, object())
            outcomes.append("handled")
        except StopConsuming:
            outcomes.append("stopped")
        except Exception as exc:  # what the consumer would retry and dead-letter
            outcomes.append(f"failed: {type(exc).__name__}")
        return ConsumeStats()

    def closed_pipe(*_a: Any, **_kw: Any) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("events.consumer.consume", fake_consume)
    monkeypatch.setattr(cli_events, "require_kafka", lambda _settings: None)
    monkeypatch.setattr(cli_events, "format_event", lambda _event: "a line")
    monkeypatch.setattr(cli_events, "_silence_stdout", lambda: None)
    monkeypatch.setattr(typer, "echo", closed_pipe)
    result = CliRunner().invoke(app, ["events", "tail", "--seconds", "1"])
    assert outcomes == ["stopped"]
    assert result.exit_code == 0, result.output
