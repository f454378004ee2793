"""Rewrites the workspace's form fixtures from the action catalogue (``make web-fixtures``).

``case-actions.fixture.json`` holds every action after intake; ``case-corrections.fixture.json`` the
three corrections. The integration tests check both against what the API serves on the real stack,
so a catalogue change that forgets this step fails there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workers.api.auth import api_roles
from workflows.domain.actions import CATALOGUE, Action, form_schema

UNIT = Path(__file__).resolve().parents[3] / "workers" / "api" / "web" / "tests" / "unit"
CORRECTIONS = ("reclassify", "set_urgency", "relocate")


def row(a: Action) -> dict[str, Any]:
    """One action as ``GET /cases/{id}/actions`` serves it."""
    return {
        "name": a.name,
        "path": a.path,
        "summary_zh": a.summary_zh,
        "summary_en": a.summary_en,
        "roles": [r.value for r in api_roles(a)],
        "form": form_schema(a),
    }


def write(path: Path, actions: list[Action]) -> None:
    body = {"case_id": "FIXTURE", "status": "handling", "actions": [row(a) for a in actions]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    after = list(CATALOGUE.after_intake())
    write(UNIT / "case-actions.fixture.json", after)
    write(UNIT / "case-corrections.fixture.json", [a for a in after if a.name in CORRECTIONS])


if __name__ == "__main__":
    main()
