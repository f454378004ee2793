"""Export one JSON Schema per event type into ``events/schemas/<type>.json`` (checked in).

Regenerate after a (compatible) change to :mod:`events.schemas`::

    .venv/bin/python -m events.export_schemas            # write the files
    .venv/bin/python -m events.export_schemas --check    # exit 1 if breaking or out of date

It refuses to overwrite a schema with a breaking change; a deliberate one (a new
``schema_version``, i.e. a new CloudEvents type ``...v2``) needs ``--force`` and a migration plan.

The checked-in files are the record of what was published; ``tests/unit/test_schema_compat.py``
compares the current models against them with :func:`events.compat.check_compatible`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from events.base import CaseEventBase
from events.compat import check_compatible
from events.schemas import EVENT_CLASSES

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _type_of(cls: type[CaseEventBase]) -> str:
    return str(cls.model_fields["type"].default)


def current_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (validation mode) of every event type, by type, from the current models."""
    out: dict[str, dict[str, Any]] = {}
    for cls in EVENT_CLASSES:
        etype = _type_of(cls)
        schema = cls.model_json_schema(mode="validation")
        out[etype] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"urn:gridcase:schema:{etype}:v{cls.model_fields['schema_version'].default}",
            **schema,
        }
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def load_checked_in(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """The checked-in schemas, by event type."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def export_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write ``<type>.json`` for every event type; returns the files written or changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for etype, schema in current_schemas().items():
        path = directory / f"{etype}.json"
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def breaking_changes(directory: Path = SCHEMA_DIR) -> dict[str, list[str]]:
    """Breaking changes of the current models against the checked-in schemas, by event type.

    An event type whose checked-in schema has no current model counts as removed.
    """
    current = current_schemas()
    out: dict[str, list[str]] = {}
    for etype, old in load_checked_in(directory).items():
        if etype not in current:
            out[etype] = ["event type removed"]
            continue
        problems = check_compatible(old, current[etype])
        if problems:
            out[etype] = problems
    return out


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """Event types whose checked-in schema is missing or differs from the current models."""
    stale = []
    for etype, schema in current_schemas().items():
        path = directory / f"{etype}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(schema):
            stale.append(etype)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="do not write; fail on breaking or stale schemas")
    parser.add_argument("--force", action="store_true", help="write even with breaking changes (new version)")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    broken = breaking_changes(args.dir)
    for etype, problems in broken.items():
        for p in problems:
            print(f"BREAKING {etype}: {p}", file=sys.stderr)
    if args.check:
        stale = stale_files(args.dir)
        for etype in stale:
            print(f"STALE {etype}: run python -m events.export_schemas", file=sys.stderr)
        return 1 if broken or stale else 0
    if broken and not args.force:
        print("refusing to overwrite schemas with breaking changes", file=sys.stderr)
        return 1
    for path in export_schemas(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
