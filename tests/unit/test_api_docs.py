"""Every error rule the API can answer with is listed in ``docs/api.md`` (its table of rules).

The rules are read from the code: the API's modules and the case client (``AuthError``,
``ApiError``, ``ActionRefused``, ``invalid(...)``, ``PydanticCustomError`` and rule constants), and
the domain's ``decide`` and ``access`` (every ``DomainError``), which the workflow's validators
answer with.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "workers" / "api").rglob("*.py")),
    ROOT / "workers" / "case_client.py",
    ROOT / "workflows" / "domain" / "decide.py",
    ROOT / "workflows" / "domain" / "access.py",
]
#: Where the rule is among each constructor's positional arguments.
RULE_ARG = {"AuthError": 1, "ApiError": 2, "ActionRefused": 0, "DomainError": 0, "invalid": 1, "PydanticCustomError": 0}
DOTTED = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
SKIP = {"users.py", "cli.py"}  # `gridcase users` (the CLI's own messages), not HTTP answers


def rules_in_code() -> dict[str, str]:
    """``{rule: file}``; an f-string rule such as ``jurisdiction.{role}`` reads ``jurisdiction.<role>``."""
    found: dict[str, str] = {}
    for path in SOURCES:
        if path.name in SKIP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                pos = RULE_ARG.get(str(name))
                if pos is None or len(node.args) <= pos:
                    continue
                arg = node.args[pos]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found[arg.value] = path.name
                elif isinstance(arg, ast.JoinedStr):
                    head = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                    found[f"{head}<role>"] = path.name
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and DOTTED.match(node.value.value)
            ):
                found[node.value.value] = path.name
    return found


def documented_rules() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text[text.index("### Error rules") :]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {rule for first_cell in rows for rule in re.findall(r"`([^`]+)`", first_cell)}


def test_every_rule_the_code_names_is_in_the_docs() -> None:
    code = rules_in_code()
    assert {
        "case.finished",
        "registry.unknown_unit",
        "idempotency.key_reused",
        "status.not_allowed",
        "jurisdiction.<role>",
        "auth.missing",
    } <= set(code)
    missing = {rule: where for rule, where in code.items() if rule not in documented_rules()}
    assert not missing, f"rules missing from the table in docs/api.md: {missing}"
