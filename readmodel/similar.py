"""Similar cases for intake: is this call a repeat of a case the hotline already has?

While a hotline seat types a complaint, :func:`similar_cases` lists the cases of the same category
at the same place that are still open or were opened recently, so a repeat call can be recorded on
the existing case instead of opening a second one.

* Candidates: the category's cases in the same grid, and (ranked lower) in the same street, that
  are open or were opened within the look-back window.
* Score: how much the titles share (:func:`text_overlap`): character bigrams for Chinese, words
  for other scripts. A same-street case never outranks a same-grid one.
* Order: same grid first, then by score, then newest first.
* Jurisdiction: the caller's scope (``workers.api.auth.list_scope``: ``street``, ``grid``,
  ``community``, ``district``, ``department``) is applied in SQL.

Only read-model columns are returned: no personal data (the read model stores none).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Engine, or_, select

from events.times import as_utc
from readmodel import tables as t
from readmodel.projection import TERMINAL_STATUSES
from readmodel.queries import involved

#: At most this many candidate rows are scored per query (newest first).
CANDIDATES = 500

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")


class SimilarCase(BaseModel):
    """A case that may be the one a caller is calling about again."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    title: str | None = None
    status: str
    opened_at: datetime | None = None
    grid_id: str | None = None
    street_id: str | None = None
    category: str | None = None
    open: bool = Field(description="Not closed, rejected or merged")
    match: Literal["grid", "street"] = Field(description="Same grid, or only the same street")
    score: float = Field(ge=0, le=1, description="How much the titles share (0..1)")


def tokens(text: str) -> set[str]:
    """The tokens compared between titles: bigrams of each run of Chinese characters (a lone
    character stands for itself), lower-cased words of other scripts and digits."""
    norm = unicodedata.normalize("NFKC", text).lower()
    out: set[str] = set()
    for run in _CJK.findall(norm):
        if len(run) == 1:
            out.add(run)
        else:
            out.update(run[i : i + 2] for i in range(len(run) - 1))
    out.update(w for w in _WORD.findall(_CJK.sub(" ", norm)))
    return out


def text_overlap(a: str, b: str) -> float:
    """The overlap coefficient of the two texts' tokens, ``|A ∩ B| / min(|A|, |B|)`` (0 when either
    has none): a short title contained in a longer complaint scores 1."""
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / min(len(ta), len(tb))


def _scope_condition(scope: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """SQL conditions for a caller's list scope (an empty scope sees everything)."""
    c = t.cases.c

    conds: list[ColumnElement[bool]] = []
    if "district" in scope:
        conds.append(c.district_id == scope["district"])
    if "street" in scope:
        conds.append(or_(c.street_id == scope["street"], involved(("street", scope["street"]))))
    if "community" in scope:
        conds.append(c.community_id == scope["community"])
    if "grid" in scope:
        conds.append(or_(c.grid_id == scope["grid"], involved(("grid", scope["grid"]))))
    for kind in ("department", "property", "volunteer_team"):  # units that see the cases they worked on
        if kind in scope:
            conds.append(involved((kind, scope[kind])))
    if "resident" in scope:  # residents are not offered other people's cases
        conds.append(c.case_id.is_(None))
    return conds


def similar_cases(
    engine: Engine,
    *,
    category: str,
    grid_id: str,
    street_id: str | None,
    text: str = "",
    now: datetime,
    days: int = 30,
    scope: Mapping[str, str] | None = None,
    limit: int = 10,
) -> list[SimilarCase]:
    """Cases a call about ``category`` in ``grid_id`` (of ``street_id``) may repeat (see the module).

    Args:
        now: the current time (aware); cases opened after ``now - days`` count even when closed.
        scope: the caller's list scope; ``None`` or empty: every case.
        limit: at most this many (1..100).

    Raises:
        ValueError: ``limit`` or ``days`` out of range, or ``now`` without a time zone.
    """
    if not 1 <= limit <= 100:
        raise ValueError(f"limit: must be between 1 and 100, got {limit}")
    if not 0 <= days <= 366:
        raise ValueError(f"days: must be between 0 and 366, got {days}")
    if now.tzinfo is None:
        raise ValueError("now: must be a datetime with a time zone")
    c = t.cases.c
    since = as_utc(now) - timedelta(days=days)
    place = c.grid_id == grid_id if street_id is None else or_(c.grid_id == grid_id, c.street_id == street_id)
    q = (
        select(c.case_id, c.title, c.status, c.opened_at, c.grid_id, c.street_id, c.category)
        .where(
            c.category == category,
            place,
            or_(c.status.not_in(sorted(TERMINAL_STATUSES)), c.opened_at >= since),
            *_scope_condition(scope or {}),
        )
        .order_by(c.opened_at.desc(), c.case_id)
        .limit(CANDIDATES)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    found = [
        SimilarCase(
            case_id=r.case_id,
            title=r.title,
            status=r.status,
            opened_at=as_utc(r.opened_at) if r.opened_at is not None else None,
            grid_id=r.grid_id,
            street_id=r.street_id,
            category=r.category,
            open=r.status not in TERMINAL_STATUSES,
            match="grid" if r.grid_id == grid_id else "street",
            score=round(text_overlap(text, r.title or ""), 3),
        )
        for r in rows
    ]
    return rank(found)[:limit]


def rank(found: list[SimilarCase]) -> list[SimilarCase]:
    """Same grid first, then the higher score, then the newest (then the case id, for a stable order)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    by_id = sorted(found, key=lambda s: s.case_id)
    by_time = sorted(by_id, key=lambda s: s.opened_at or oldest, reverse=True)
    return sorted(by_time, key=lambda s: (s.match != "grid", -s.score))
