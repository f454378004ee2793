"""Similar cases for intake (``readmodel/similar.py``): the title tokens, their overlap, and the query
on a small read model (place, category, open or recent, jurisdiction, order)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert

from readmodel import tables as t
from readmodel.similar import SimilarCase, rank, similar_cases, text_overlap, tokens

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("噪音扰民", {"噪音", "音扰", "扰民"}),
        ("噪", {"噪"}),
        ("", set()),
        ("  ", set()),
        ("Noise at NIGHT", {"noise", "at", "night"}),
        ("3号楼噪音", {"3", "号楼", "噪音", "楼噪"}),
        ("工地，夜间", {"工地", "夜间"}),  # punctuation splits runs: no bigram across it
        ("ＡＢＣ噪音", {"abc", "噪音"}),  # full-width letters are folded
    ],
)
def test_tokens_are_chinese_bigrams_and_words(text: str, expected: set[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("噪音扰民", "噪音扰民", 1.0),
        ("噪音扰民", "夜间施工噪音扰民严重", 1.0),  # a short title inside a longer complaint
        ("噪音扰民", "垃圾清运", 0.0),
        ("", "噪音扰民", 0.0),
        ("噪音扰民", "", 0.0),
        ("工地噪音", "噪音扰民", 1 / 3),
        ("Noise at night", "night noise", 1.0),
    ],
)
def test_overlap_coefficient(a: str, b: str, expected: float) -> None:
    assert text_overlap(a, b) == pytest.approx(expected)
    assert text_overlap(b, a) == pytest.approx(expected)  # symmetric


def test_overlap_is_between_zero_and_one_for_any_texts() -> None:
    samples = ["噪音", "噪音扰民夜间", "a b c", "施工 noise 噪音", "", "x", "扰民扰民扰民"]
    for a in samples:
        for b in samples:
            assert 0.0 <= text_overlap(a, b) <= 1.0


def _item(case_id: str, match: str, score: float, hours_ago: float | None) -> SimilarCase:
    opened = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return SimilarCase(
        case_id=case_id,
        status="received",
        opened_at=opened,
        open=True,
        match=match,
        score=score,  # type: ignore[arg-type]
    )


def test_rank_puts_the_same_grid_first_then_score_then_newest() -> None:
    found = [
        _item("street-high", "street", 1.0, 1),
        _item("grid-low-new", "grid", 0.2, 1),
        _item("grid-high-old", "grid", 0.9, 50),
        _item("grid-high-new", "grid", 0.9, 2),
        _item("grid-low-undated", "grid", 0.2, None),
        _item("street-low", "street", 0.0, 0),
    ]
    assert [s.case_id for s in rank(found)] == [
        "grid-high-new",
        "grid-high-old",
        "grid-low-new",
        "grid-low-undated",
        "street-high",
        "street-low",
    ]


# --- the query on a read model -------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    t.metadata.create_all(eng)
    yield eng
    eng.dispose()


def add_case(engine: Engine, case_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "case_id": case_id,
        "status": "received",
        "category": "noise",
        "title": "噪音扰民",
        "district_id": "D-1",
        "street_id": "S-1",
        "community_id": "C-10",
        "grid_id": "G-101",
        "opened_at": NOW - timedelta(days=1),
        "last_seq": 1,
    }
    row.update(fields)
    with engine.begin() as conn:
        conn.execute(insert(t.cases).values(**row))


def assign(engine: Engine, case_id: str, kind: str, unit: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.assignments).values(
                case_id=case_id,
                assignment_id=f"d-{kind}-{unit}",
                kind="dispatch",
                unit_kind=kind,
                unit_id=unit,
                assigned_at=NOW,
                status="open",
            )
        )


def ids(engine: Engine, **kwargs: Any) -> list[str]:
    args: dict[str, Any] = {"category": "noise", "grid_id": "G-101", "street_id": "S-1", "now": NOW, **kwargs}
    return [s.case_id for s in similar_cases(engine, **args)]


def test_same_category_and_place_open_or_recent(engine: Engine) -> None:
    add_case(engine, "open-grid")
    add_case(engine, "open-street", grid_id="G-102")
    add_case(engine, "other-street", grid_id="G-201", street_id="S-2", community_id="C-20")
    add_case(engine, "other-category", category="garbage")
    add_case(engine, "closed-recent", status="closed", opened_at=NOW - timedelta(days=10))
    add_case(engine, "closed-old", status="closed", opened_at=NOW - timedelta(days=40))
    add_case(engine, "open-old", status="handling", opened_at=NOW - timedelta(days=90))
    add_case(engine, "merged-old", status="merged", opened_at=NOW - timedelta(days=31))
    assert set(ids(engine)) == {"open-grid", "open-street", "closed-recent", "open-old"}
    assert set(ids(engine, days=5)) == {"open-grid", "open-street", "open-old"}
    assert set(ids(engine, street_id=None)) == {"open-grid", "closed-recent", "open-old"}
    found = {s.case_id: s for s in similar_cases(engine, category="noise", grid_id="G-101", street_id="S-1", now=NOW)}
    assert found["open-grid"].match == "grid" and found["open-grid"].open
    assert found["open-street"].match == "street"
    assert not found["closed-recent"].open


def test_ordered_by_place_then_title_overlap_then_newest(engine: Engine) -> None:
    add_case(engine, "street-exact", grid_id="G-102", title="工地夜间施工噪音", opened_at=NOW - timedelta(hours=1))
    add_case(engine, "grid-other-title", title="广场舞音响", opened_at=NOW - timedelta(hours=2))
    add_case(engine, "grid-exact-old", title="工地夜间施工", opened_at=NOW - timedelta(hours=30))
    add_case(engine, "grid-exact-new", title="夜间施工", opened_at=NOW - timedelta(hours=3))
    got = similar_cases(engine, category="noise", grid_id="G-101", street_id="S-1", text="工地夜间施工", now=NOW)
    assert [s.case_id for s in got] == ["grid-exact-new", "grid-exact-old", "grid-other-title", "street-exact"]
    assert got[0].score == 1.0 and got[2].score == 0.0
    assert [s.case_id for s in similar_cases(engine, category="noise", grid_id="G-101", street_id="S-1", now=NOW)][
        :3
    ] == ["grid-other-title", "grid-exact-new", "grid-exact-old"]  # no text: newest first in the grid


def test_limit(engine: Engine) -> None:
    for n in range(15):
        add_case(engine, f"c{n:02d}", opened_at=NOW - timedelta(minutes=n))
    assert ids(engine, limit=3) == ["c00", "c01", "c02"]
    assert len(ids(engine)) == 10


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({}, {"here", "street-2-dispatched", "grid-102"}),
        ({"district": "D-1"}, {"here", "street-2-dispatched", "grid-102"}),
        ({"district": "D-9"}, set()),
        ({"street": "S-1"}, {"here", "street-2-dispatched", "grid-102"}),
        ({"street": "S-2"}, {"street-2-dispatched"}),  # dispatched to it, though located elsewhere
        ({"community": "C-10"}, {"here", "street-2-dispatched"}),
        ({"community": "C-11"}, {"grid-102"}),
        ({"grid": "G-101"}, {"here", "street-2-dispatched"}),
        ({"grid": "G-102"}, {"grid-102"}),
        ({"department": "environment"}, {"street-2-dispatched"}),
        ({"department": "water"}, set()),
        ({"resident": "resident-1"}, set()),
    ],
)
def test_jurisdiction_is_applied(engine: Engine, scope: dict[str, str], expected: set[str]) -> None:
    add_case(engine, "here")
    add_case(engine, "street-2-dispatched")
    assign(engine, "street-2-dispatched", "street", "S-2")
    assign(engine, "street-2-dispatched", "department", "environment")
    add_case(engine, "grid-102", grid_id="G-102", community_id="C-11")
    assert set(ids(engine, scope=scope)) == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"days": -1}, "days"), ({"days": 367}, "days")],
)
def test_bad_arguments_are_refused(engine: Engine, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ids(engine, **kwargs)


def test_a_naive_now_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="now"):
        ids(engine, now=NOW.replace(tzinfo=None))
