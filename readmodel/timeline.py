"""The audit trail of one case: who did what, when, against which clock (pure).

Works on timeline rows (:func:`readmodel.projection.timeline_row`, or the ``rm_case_timeline``
table), so the same rendering serves the live workflow history and the read model. The SLA
events that an action causes (``sla.clock_stopped`` / ``sla.clock_started`` right after it, at the
same instant) are folded into the action's *clock* column: which clock it stopped, its due time
and whether it was met, and which clocks it started.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.times import city_time

_OUTCOME = re.compile(r"(?:^| )outcome=(\w+)")
_CLOCK_FOLLOWERS = ("sla.clock_stopped", "sla.clock_started")


@dataclass(frozen=True)
class AuditLine:
    seq: int
    occurred_at: datetime
    who: str
    what: str
    unit: str
    clock: str
    detail: str
    folded: tuple[int, ...] = ()  # seqs of the clock events folded into this line


def _local(when: datetime | None) -> str:
    return "-" if when is None else city_time(when, "%m-%d %H:%M")


def _who(row: Mapping[str, Any]) -> str:
    who = f"{row['actor_role']}:{row['actor_person']}"
    return who + (f"@{row['actor_unit']}" if row.get("actor_unit") else "")


def _unit(row: Mapping[str, Any]) -> str:
    return f"{row['unit_kind']}:{row['unit_id']}" if row.get("unit_kind") else ""


def _outcome(row: Mapping[str, Any]) -> str:
    m = _OUTCOME.search(row.get("detail") or "")
    return m.group(1) if m else "?"


def audit_trail(rows: Iterable[Mapping[str, Any]], *, fold: bool = True) -> list[AuditLine]:
    """One line per action (with its clock effects folded in) or per standalone SLA event."""
    ordered: Sequence[Mapping[str, Any]] = sorted(rows, key=lambda r: int(r["seq"]))
    due: dict[str, datetime] = {}
    lines: list[AuditLine] = []
    i = 0
    while i < len(ordered):
        row = ordered[i]
        kind = row["type"]
        if row.get("clock_id") and row.get("due_at") is not None:
            due[row["clock_id"]] = row["due_at"]
        clock = ""
        folded: list[int] = []
        if kind.startswith("sla."):
            what = kind.removeprefix("sla.")
            if row.get("clock_id"):
                clock = f"{row['clock_id']} due {_local(due.get(row['clock_id']))}"
                if kind == "sla.clock_stopped":
                    clock += f": {_outcome(row)}"
        else:
            what = kind.removeprefix("case.")
            effects: list[str] = []
            j = i + 1
            while fold and j < len(ordered):
                nxt = ordered[j]
                if nxt["type"] not in _CLOCK_FOLLOWERS or nxt["occurred_at"] != row["occurred_at"]:
                    break
                cid = nxt.get("clock_id") or "?"
                if nxt["type"] == "sla.clock_stopped":
                    effects.append(f"stops {cid} (due {_local(due.get(cid))}): {_outcome(nxt)}")
                else:
                    due[cid] = nxt["due_at"]
                    effects.append(f"starts {cid} → due {_local(nxt['due_at'])}")
                folded.append(int(nxt["seq"]))
                j += 1
            clock = "; ".join(effects)
        lines.append(
            AuditLine(
                seq=int(row["seq"]),
                occurred_at=row["occurred_at"],
                who=_who(row),
                what=what,
                unit=_unit(row),
                clock=clock,
                detail=row.get("detail") or "",
                folded=tuple(folded),
            )
        )
        i += 1 + len(folded)
    return lines


_REDUNDANT = re.compile(r"(?:^| )(?:clock_id|kind|unit|due_at|outcome)=\S+")


def _short_detail(line: AuditLine) -> str:
    """The detail without what the other columns already say."""
    return _REDUNDANT.sub("", line.detail).strip()


def render_audit(case_id: str, lines: Sequence[AuditLine], *, source: str) -> Any:
    """The audit trail as rich text: one line per action, its clock effects and details underneath."""
    from rich.console import Group
    from rich.text import Text

    out: list[Any] = [Text(f"case {case_id}: audit trail ({source}); times Asia/Shanghai", style="bold")]
    for ln in lines:
        seq = f"{ln.seq}" if not ln.folded else f"{ln.seq}-{ln.folded[-1]}"
        style = (
            "bold red"
            if ln.what in ("breached", "escalation_raised")
            else ("yellow" if ln.what == "warning_raised" else "bold")
        )
        head = Text()
        head.append(f"{seq:>6}  ", style="dim")
        head.append(city_time(ln.occurred_at, "%Y-%m-%d %H:%M:%S") + "  ")
        head.append(f"{ln.what:<24}", style=style)
        head.append(f" by {ln.who}", style="cyan")
        if ln.unit:
            head.append(f"  unit {ln.unit}")
        out.append(head)
        if ln.clock:
            out.append(Text(f"{'':8}clock: {ln.clock}", style="magenta"))
        detail = _short_detail(ln)
        if detail:
            out.append(Text(f"{'':8}{detail}", style="dim"))
    return Group(*out)
