"""Adding an action is one catalogue row and one ``decide`` handler (docs/architecture.md).

A fixture registers a toy action — the handling street records how the resident sounded — with
:func:`workflows.domain.decide.registered_action`, then starts the worker, the projector and the
API on the real local stack. Without any other edit the action appears in the API's OpenAPI
document (route, summary, body), in the CLI's ``gridcase case --help`` and its own ``--help``, and
in ``GET /cases/{id}/actions`` for exactly the callers the domain would let do it.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

from events.base import Role
from tests.integration.test_api_support import ApiStack, act, open_case, start_api_stack
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, FormField, Widget
from workflows.domain.decide import HANDLERS, Decision, registered_action
from workflows.domain.errors import DomainError
from workflows.domain.state import CaseStatus

pytestmark = pytest.mark.integration


class Tone(StrEnum):
    CALM = "calm"
    UPSET = "upset"


class NoteTone(c.Command):
    """The handling street notes how the resident sounded on the phone."""

    type: Literal["note_tone"] = "note_tone"
    tone: Tone
    remark: c.Text


def _note_tone(d: Decision, cmd: NoteTone) -> None:
    s = d.state
    if s.status != CaseStatus.HANDLING:
        raise DomainError("status.not_allowed", "a tone is noted while the case is handled")
    if s.unit is None or cmd.actor.unit_id != s.unit.id:
        raise DomainError("jurisdiction.not_assigned", "only the handling unit notes the tone")


TOY = Action(
    "note_tone",
    NoteTone,
    (Role.STREET,),
    "记录来电情绪",
    "note how the resident sounded",
    (FormField("tone", "情绪", "Tone", Widget.CHOICE), FormField("remark", "说明", "Remark", Widget.TEXTAREA)),
)


@pytest.fixture(scope="module")
def api(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    with registered_action(TOY, _note_tone):
        stack = start_api_stack(stack_settings, Path(tmp_path_factory.mktemp("toy")))
        try:
            yield stack
        finally:
            stack.stop()
    assert "note_tone" not in CATALOGUE and NoteTone not in HANDLERS


def test_the_toy_action_is_in_the_openapi_document(api: ApiStack) -> None:
    with api.client() as http:
        spec = http.get("/openapi.json").json()
    op = spec["paths"]["/cases/{case_id}/note-tone"]["post"]
    assert "记录来电情绪" in op["summary"]
    assert "street" in op["description"]
    body_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = spec["components"]["schemas"][body_ref]
    assert set(body["properties"]) == {"tone", "remark"}
    assert "actor" not in body["properties"]


def test_the_toy_action_is_a_cli_command() -> None:
    from workers.cli_case import build_case_app

    app = build_case_app()
    listing = CliRunner().invoke(app, ["--help"])
    assert listing.exit_code == 0, listing.output
    assert "note-tone" in listing.output
    own = CliRunner().invoke(app, ["note-tone", "--help"])
    assert own.exit_code == 0, own.output
    assert "记录来电情绪" in own.output and "--tone" in own.output and "--remark" in own.output


def test_the_toy_action_is_offered_exactly_where_the_domain_allows_it(api: ApiStack) -> None:
    geo = api.geo
    with api.client("op-1") as hotline, api.client("street-1") as street, api.client("street-2") as other:
        case_id = open_case(hotline, geo)

        def offered(http: object) -> set[str]:
            r = http.get(f"/cases/{case_id}/actions")  # type: ignore[attr-defined]
            assert r.status_code == 200, r.text
            return {a["name"] for a in r.json()["actions"]}

        assert "note_tone" not in offered(street)  # not yet the street's case
        for step, http, body in (
            ("register", hotline, {}),
            ("dispatch", hotline, {"unit": {"kind": "street", "id": geo.street}}),
            ("accept", street, {}),
        ):
            r = act(http, case_id, step, body)
            assert r.status_code == 200, r.text
        assert "note_tone" in offered(street)  # the handling street, while handling
        assert "note_tone" not in offered(hotline)  # a role the row does not list
        r = other.get(f"/cases/{case_id}/actions")
        assert r.status_code == 403 or "note_tone" not in {a["name"] for a in r.json()["actions"]}
        form = next(a for a in street.get(f"/cases/{case_id}/actions").json()["actions"] if a["name"] == "note_tone")
        assert form["path"] == "note-tone"
        assert form["form"]["properties"]["tone"]["x-widget"] == "choice"
        assert form["form"]["properties"]["remark"]["title"] == "说明"
