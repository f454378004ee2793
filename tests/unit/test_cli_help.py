"""``--help`` renders for every command and group of ``gridcase``, whatever its help text contains.

Help texts carry brackets that Rich would read as markup (``ROLE[:UNIT][/PERSON]``, ``[required]``);
the whole tree is walked, so a new command with such text is covered without a new test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from workers.cli import app


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app), ("gridcase",)))


def test_the_tree_is_walked() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {
        "gridcase",
        "gridcase case",
        "gridcase case dispatch",
        "gridcase users add",
        "gridcase report",
        "gridcase events tail",
        "gridcase city show",
        "gridcase readmodel status",
    } <= names
    assert len(COMMANDS) > 60


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_renders(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path[1:], "--help"], prog_name="gridcase")
    assert result.exit_code == 0, f"{' '.join(path)} --help: {result.exception!r}\n{result.output}"
    assert result.output.lstrip().startswith(f"Usage: {' '.join(path)} "), result.output[:300]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("path", [p for p in COMMANDS if len(p) > 1 and p[1] == "case" and len(p) == 3], ids=" ".join)
def test_case_commands_show_the_actor_syntax_verbatim(path: tuple[str, ...]) -> None:
    """The bracketed syntax reaches the reader as written, not eaten as markup."""
    result = CliRunner().invoke(app, [*path[1:], "--help"], prog_name="gridcase")
    if path[2] != "timeline" and path[2] != "show":
        assert "ROLE[:UNIT][/PERSON]" in result.output
