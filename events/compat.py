"""Compatibility check between two JSON Schemas of one event type (pydantic's output, with ``$defs``).

A change is *breaking* when data written under one schema may be rejected under the other:

* a field removed (old readers, or stored history, lose it);
* a field retyped: a JSON type, format or ``const`` of the old schema no longer accepted, a
  nullable field made non-nullable, an enum value removed, an object or array turned into
  something else;
* an optional field made required, or a new required field (one without a default) added;
* a length or range constraint tightened (``maxLength``/``maximum`` lowered,
  ``minLength``/``minimum`` raised).

Nested models are compared through ``$ref``/``$defs`` recursively. Not breaking: a new field
with a default, a new enum value (deploy consumers before producers send it), a widened type
(``integer`` → ``number``, a field made nullable), a loosened constraint.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_CONSTRAINTS_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
_CONSTRAINTS_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems")


def check_compatible(old_schema: Schema, new_schema: Schema) -> list[str]:
    """The breaking changes from ``old_schema`` to ``new_schema``; an empty list means compatible."""
    problems: list[str] = []
    _compare(old_schema, new_schema, old_schema, new_schema, "", problems, set())
    return problems


def _resolve(schema: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 50:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        # keep sibling keywords of $ref (pydantic may put a description/default next to it)
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **extra}
        seen += 1
    return schema


def _variants(schema: Schema, root: Schema) -> list[Schema]:
    """Flatten anyOf/oneOf into resolved alternatives."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            out: list[Schema] = []
            for alt in schema[key]:
                out.extend(_variants(alt, root))
            return out
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": t} for t in schema["type"]]
    return [schema]


def _kind(v: Schema) -> str:
    if "const" in v:
        return "const"
    if "enum" in v:
        return "enum"
    if "properties" in v or v.get("type") == "object":
        return "object"
    t = v.get("type")
    return str(t) if t else "any"


def _label(v: Schema) -> str:
    k = _kind(v)
    if k == "const":
        return f"const {v['const']!r}"
    if k == "enum":
        return f"enum {v.get('title') or ''}".strip()
    if k == "string" and v.get("format"):
        return f"string({v['format']})"
    if k == "object" and v.get("title"):
        return f"object {v['title']}"
    return k


def _accepts(new: list[Schema], old: Schema) -> Schema | None:
    """A variant of ``new`` that accepts everything ``old`` accepted (by type), or None."""
    ok = _kind(old)
    for n in new:
        nk = _kind(n)
        if nk == "any":
            return n
        if ok == "const":
            if nk == "const" and n["const"] == old["const"]:
                return n
            if nk == "enum" and old["const"] in n["enum"]:
                return n
            if nk == "string" and isinstance(old["const"], str) and not n.get("format"):
                return n
            continue
        if ok == "enum":
            if nk == "enum":
                return n  # value-level comparison in _compare_variant
            if nk == "string" and all(isinstance(x, str) for x in old["enum"]) and not n.get("format"):
                return n
            continue
        if ok == nk:
            if ok == "string" and n.get("format") and n.get("format") != old.get("format"):
                continue
            return n
        if ok == "integer" and nk == "number":
            return n
    return None


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str], seen: set[str]
) -> None:
    where = path or "<root>"
    new_variants = _variants(new, new_root)
    for ov in _variants(old, old_root):
        nv = _accepts(new_variants, ov)
        if nv is None:
            got = " | ".join(_label(v) for v in new_variants)
            if _kind(ov) == "null":
                out.append(f"field '{where}' retyped: made non-nullable (was {_label(ov)}, now {got})")
            else:
                out.append(f"field '{where}' retyped: {_label(ov)} -> {got}")
            continue
        _compare_variant(ov, nv, old_root, new_root, path, out, seen)


def _compare_variant(
    ov: Schema, nv: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str], seen: set[str]
) -> None:
    where = path or "<root>"
    kind = _kind(ov)
    if kind == "enum" and _kind(nv) == "enum":
        removed = [x for x in ov["enum"] if x not in nv["enum"]]
        if removed:
            out.append(f"field '{where}' retyped: enum values removed {removed}")
    for c in _CONSTRAINTS_UPPER:
        if c in nv and (c not in ov or nv[c] < ov[c]):
            out.append(f"field '{where}' constraint tightened: {c} {ov.get(c)} -> {nv[c]}")
    for c in _CONSTRAINTS_LOWER:
        if c in nv and (c not in ov or nv[c] > ov[c]):
            out.append(f"field '{where}' constraint tightened: {c} {ov.get(c)} -> {nv[c]}")
    if kind == "object" and _kind(nv) == "object":
        key = f"{path}|{ov.get('title')}|{nv.get('title')}"
        if key in seen:  # recursive models
            return
        seen = seen | {key}
        old_props: dict[str, Schema] = ov.get("properties", {})
        new_props: dict[str, Schema] = nv.get("properties", {})
        old_req = set(ov.get("required", []))
        new_req = set(nv.get("required", []))
        for name, osch in old_props.items():
            sub = f"{path}.{name}" if path else name
            if name not in new_props:
                out.append(f"field '{sub}' removed")
                continue
            if name in new_req and name not in old_req:
                out.append(f"field '{sub}' made required (was optional)")
            _compare(osch, new_props[name], old_root, new_root, sub, out, seen)
        for name in new_props:
            if name not in old_props and name in new_req:
                sub = f"{path}.{name}" if path else name
                out.append(f"field '{sub}' added as required (new fields need a default)")
    elif kind == "array" and _kind(nv) == "array" and "items" in ov and "items" in nv:
        _compare(ov["items"], nv["items"], old_root, new_root, f"{path}[]", out, seen)
