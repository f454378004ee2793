"""Monthly supervision reports from the read model: a table, CSV, or a self-contained HTML page.

The HTML page needs nothing but a browser: no script, no web font, no CDN. Its three charts are
inline SVG drawn here: the trend of the response, resolution and satisfaction rates over the last
months, the ranking bars of the composite score, and the heat of overdue open cases by street and
category.

Handling times are in policy hours: a case that ran on compressed SLA time counts its wall-clock
seconds divided by its time scale (see :mod:`readmodel.kpis`); every format says how many cases
of the period did (:func:`time_note`).

Units are named by id (``S-0202``); given ``names`` (id → display name, e.g. from the city registry),
every format shows the name beside the id (``S-0202 新华街道``) and the CSV adds a ``name`` column next
to ``key``. The read model does not know the city: the caller passes the names in.

The work inside the units (:class:`~readmodel.kpis.UnitWork`) is in the table and HTML formats
whenever the period has any: per handling unit the replies submitted for review and sent back
(退回重办率), the interim replies and how many were on time (阶段性答复按时率) and the corrections
made to its cases; the corrections per category; and each handler's (承办人) load: open cases now,
overdue ones, cases closed in the period. Handlers are named by person id; given
``person_names`` (person id → name, from the user directory) the name is shown beside the id.

The CSV stays one row per ranked unit plus the ``total`` row, its first columns unchanged
(``period by rank key name``, the :data:`COLUMNS`, ``compressed_cases``); the work inside the units
follows in :data:`CSV_WORK_COLUMNS`: ``replies_submitted sent_back_rate interim_replies
interim_on_time_rate corrections``. A row of a street, department or grid carries the work of that
unit (``street:<key>``..., the row of the table's work section; zeros and empty rates when it had
none); a row of a category the work over the cases of the category (their corrections are the
category's row of the corrections by category); the ``total`` row the work over every unit. A
district or community is no handling unit: its cells are empty. A rate is empty when undefined (no
reply submitted for review, no interim reply). Each handler's load is per person, not per ranked
unit: the CSV leaves it out (the table and HTML formats, and ``GET /dashboard``, carry it).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from events.times import city_time
from readmodel.kpis import (
    NO_UNIT,
    AssignmentFacts,
    CaseFacts,
    CorrectionCounts,
    MetricSet,
    PersonLoad,
    RankRow,
    UnitWork,
    WorkFacts,
    compute,
    corrections_by_category,
    evaluated,
    is_overdue,
    load_facts,
    load_work_facts,
    person_load,
    ranking,
    unit_work,
    work_by_unit,
)

REPORT_BY: tuple[str, ...] = ("street", "department", "grid", "community", "district", "category")
FORMATS: tuple[str, ...] = ("table", "csv", "html")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: (MetricSet field, short header, long label, kind) in report column order.
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("cases", "cases", "cases", "count"),
    ("response_rate", "resp", "response rate 响应率", "rate"),
    ("resolution_rate", "resol", "resolution rate 解决率", "rate"),
    ("satisfaction_rate", "satis", "satisfaction rate 满意率", "rate"),
    ("composite", "score", "composite 综合", "rate"),
    ("on_time_resolution_rate", "ot-res", "on-time resolution 按时办结率", "rate"),
    ("on_time_closure_rate", "ot-close", "on-time closure 按时结案率", "rate"),
    ("rework_rate", "rework", "rework rate 返工率", "rate"),
    ("return_rate", "return", "return rate 退单率", "rate"),
    ("whistle_rate", "whistle", "whistle rate 吹哨率", "rate"),
    ("on_time_report_in_rate", "ot-rep", "on-time report-in 按时报到率", "rate"),
    ("grid_self_handled_share", "grid", "resolved by the grid 网格自办", "rate"),
    ("mean_handling_hours", "mean h", "mean handling time, policy hours", "hours"),
    ("p90_handling_hours", "p90 h", "p90 handling time, policy hours", "hours"),
    ("overdue_open", "overdue", "overdue open cases 超期未办结", "count"),
)


SCORE_COLUMNS = ("cases", "response_rate", "resolution_rate", "satisfaction_rate", "composite", "overdue_open")
PROCESS_COLUMNS = tuple(c[0] for c in COLUMNS if c[0] not in SCORE_COLUMNS)

#: (UnitWork field, short header, long label, kind) of the work inside the units, in column order.
#: The corrections' fields are those of :class:`~readmodel.kpis.CorrectionCounts`.
WORK_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("replies_submitted", "submitted", "replies submitted for review 报审", "count"),
    ("replies_sent_back", "sent back", "replies sent back 退回重办", "count"),
    ("sent_back_rate", "sent-back", "sent-back rate 退回重办率", "rate"),
    ("interim_replies", "interim", "interim replies 阶段性答复", "count"),
    ("interim_on_time", "on time", "interim replies on time", "count"),
    ("interim_on_time_rate", "ot-interim", "interim replies on time 阶段性答复按时率", "rate"),
)
CORRECTION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("reclassified", "reclass", "reclassified 改类"),
    ("urgency_changed", "urgency", "urgency changed 加急/降级"),
    ("relocated", "reloc", "relocated 改址"),
    ("total", "corr", "corrections, all kinds"),
)
#: (UnitWork field, kind) of the CSV's columns of the work inside the units, after ``compressed_cases``;
#: ``corrections`` is :attr:`~readmodel.kpis.CorrectionCounts.total`.
CSV_WORK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("replies_submitted", "count"),
    ("sent_back_rate", "rate"),
    ("interim_replies", "count"),
    ("interim_on_time_rate", "rate"),
    ("corrections", "count"),
)
#: The report dimensions whose keys are handling units of that kind (``street:<key>``...).
UNIT_DIMENSIONS: tuple[str, ...] = ("street", "department", "grid")
#: (PersonLoad field, header) of the handlers' load.
PERSON_COLUMNS: tuple[tuple[str, str], ...] = (("open", "open"), ("overdue", "overdue"), ("closed", "closed"))


def parse_period(text: str) -> str:
    """Check a ``YYYY-MM`` period; raises ``ValueError`` naming the field and the rule."""
    if not _PERIOD.match(text):
        raise ValueError(f"period: expected YYYY-MM (e.g. 2026-11), got {text!r}")
    return text


def previous_months(period: str, n: int) -> list[str]:
    """The ``n`` months ending with ``period``, oldest first."""
    year, month = (int(x) for x in period.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


@dataclass
class Report:
    """Everything a report shows, computed once and rendered in any format."""

    period: str
    by: str
    as_of: datetime
    total: MetricSet
    rows: list[RankRow]
    trend: list[tuple[str, MetricSet]]
    heat: dict[str, dict[str, int]]  # street -> category -> overdue open cases at as_of
    heat_categories: list[str]
    basic_weight: float
    weights: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)
    #: Display names of the ranked keys and of the heat map's streets, by id (may be empty).
    names: Mapping[str, str] = field(default_factory=dict)
    #: The work inside the units over the period's cases: every unit's together, and per unit (``kind:id``).
    work: UnitWork = field(default_factory=UnitWork)
    work_by_unit: dict[str, UnitWork] = field(default_factory=dict)
    corrections_by_category: dict[str, CorrectionCounts] = field(default_factory=dict)
    #: The work over the period's cases of each category (as it stands), for the CSV of ``by=category``.
    work_by_category: dict[str, UnitWork] = field(default_factory=dict)
    #: Each handler's load: open cases at ``as_of`` (whenever opened), cases closed in the period.
    people: list[PersonLoad] = field(default_factory=list)
    #: Names of the handlers by person id (may be empty).
    person_names: Mapping[str, str] = field(default_factory=dict)

    def label(self, key: str) -> str:
        """``S-0202 新华街道`` when the id has a name, else the id."""
        name = self.names.get(key)
        return f"{key} {name}" if name and name != key else key

    def unit_label(self, key: str) -> str:
        """A unit ``kind:id`` with the name of its id beside it (``department:water 水务局``)."""
        if key == NO_UNIT:
            return "- (no unit: hotline)"
        name = self.names.get(key.partition(":")[2])
        return f"{key} {name}" if name else key

    def person_label(self, person_id: str) -> str:
        """``p-1 李四`` when the person has a name, else the id."""
        name = self.person_names.get(person_id)
        return f"{person_id} {name}" if name and name != person_id else person_id

    def row_work(self, key: str) -> UnitWork | None:
        """The work of the ranked unit ``key`` (see the module's CSV), ``None`` where ``by`` has no unit."""
        if self.by in UNIT_DIMENSIONS:
            return self.work_by_unit.get(f"{self.by}:{key}", UnitWork())
        if self.by == "category":
            return self.work_by_category.get(key, UnitWork())
        return None

    @property
    def has_work(self) -> bool:
        """Any review, interim reply, correction or handler's load to show."""
        return bool(self.work_by_unit or self.people)


def build_report(
    engine: Engine,
    period: str,
    by: str = "street",
    *,
    as_of: datetime | None = None,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
    trend_months: int = 6,
    names: Mapping[str, str] | None = None,
    person_names: Mapping[str, str] | None = None,
) -> Report:
    """The report of ``period`` ranked ``by`` street, department, grid...; ``as_of`` defaults to now.

    ``names``: display names by id of the ``by`` dimension's units and of the streets (for the heat map).
    ``person_names``: names of the handlers by person id (the user directory's).
    """
    parse_period(period)
    if by not in REPORT_BY:
        raise ValueError(f"by: must be one of {', '.join(REPORT_BY)}, got {by!r}")
    as_of = as_of or datetime.now(UTC)
    cases, assignments = load_facts(engine)
    return report_from_facts(
        cases,
        assignments,
        period,
        by,
        as_of=as_of,
        basic_weight=basic_weight,
        weights=weights,
        trend_months=trend_months,
        names=names,
        work=load_work_facts(engine),
        person_names=person_names,
    )


def report_from_facts(
    cases: list[CaseFacts],
    assignments: list[AssignmentFacts],
    period: str,
    by: str,
    *,
    as_of: datetime,
    basic_weight: float,
    weights: tuple[float, float, float],
    trend_months: int = 6,
    names: Mapping[str, str] | None = None,
    work: Sequence[WorkFacts] = (),
    person_names: Mapping[str, str] | None = None,
) -> Report:
    """:func:`build_report` on facts already loaded (pure).

    ``work``: the work-inside-the-units facts (:func:`~readmodel.kpis.load_work_facts`); their figures
    count the events of the cases opened in the period, like every other figure.
    """
    in_period = [c for c in cases if c.period == period]
    total = compute(in_period, assignments, as_of=as_of, basic_weight=basic_weight, weights=weights)
    rows = ranking(cases, assignments, by, period, as_of=as_of, basic_weight=basic_weight, weights=weights)
    trend = [
        (
            m,
            compute(
                [c for c in cases if c.period == m],
                assignments,
                as_of=as_of,
                basic_weight=basic_weight,
                weights=weights,
            ),
        )
        for m in previous_months(period, trend_months)
    ]
    heat: dict[str, dict[str, int]] = {}
    categories: set[str] = set()
    for c in cases:
        if c.street_id is None or c.excluded or c.status in ("rejected", "merged"):
            continue
        row = heat.setdefault(c.street_id, {})
        cat = c.category or "-"
        categories.add(cat)
        row[cat] = row.get(cat, 0) + (1 if is_overdue(c, as_of) else 0)
    notes = []
    if not in_period:
        notes.append(f"no case was opened in {period}")
    period_ids = {c.case_id for c in evaluated(in_period)}
    category = {c.case_id: c.category or NO_UNIT for c in evaluated(in_period)}
    by_category: dict[str, list[WorkFacts]] = {}
    for e in work:
        if e.case_id in period_ids:
            by_category.setdefault(category[e.case_id], []).append(e)
    return Report(
        period=period,
        by=by,
        as_of=as_of,
        total=total,
        rows=rows,
        trend=trend,
        heat={k: heat[k] for k in sorted(heat)},
        heat_categories=sorted(categories),
        basic_weight=basic_weight,
        weights=weights,
        notes=notes,
        names=dict(names or {}),
        work=unit_work([e for e in work if e.case_id in period_ids]),
        work_by_unit=work_by_unit(in_period, work),
        corrections_by_category=corrections_by_category(in_period, work),
        work_by_category={k: unit_work(by_category[k]) for k in sorted(by_category)},
        people=person_load(cases, period, as_of=as_of),
        person_names=dict(person_names or {}),
    )


# --- formatting -----------------------------------------------------------------------------------


def time_note(report: Report) -> str | None:
    """What the handling hours mean when some of the period's cases ran on compressed time, else ``None``."""
    n = report.total.compressed_cases
    if n == 0:
        return None
    real = report.total.cases - n
    return (
        f"handling times in policy hours; {n} of {report.total.cases} cases ran on compressed time "
        f"(wall-clock seconds ÷ time scale)" + (f", {real} in real time (wall-clock hours)" if real else "")
    )


def fmt(value: float | int | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "hours":
        return f"{value:.1f}"
    return str(int(value))


def _raw(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def _local(when: datetime) -> str:
    return city_time(when, "%Y-%m-%d %H:%M %Z")


def work_cells(work: UnitWork | None) -> list[str]:
    """The CSV cells of :data:`CSV_WORK_COLUMNS` for ``work``; all empty when ``None`` (no such unit)."""
    if work is None:
        return ["" for _ in CSV_WORK_COLUMNS]
    return [
        _raw(work.corrections.total if name == "corrections" else getattr(work, name)) for name, _ in CSV_WORK_COLUMNS
    ]


def render_csv(report: Report) -> str:
    """One row per ranked unit, plus a ``total`` row; rates as fractions, empty when undefined.

    ``key`` is the unit's id, ``name`` its display name (empty when the report has none). The work
    inside the units comes last (:data:`CSV_WORK_COLUMNS`, see the module's docstring)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "period",
            "by",
            "rank",
            "key",
            "name",
            *[c[0] for c in COLUMNS],
            "compressed_cases",
            *[c[0] for c in CSV_WORK_COLUMNS],
        ]
    )
    for r in report.rows:
        w.writerow(
            [
                report.period,
                report.by,
                r.rank,
                r.key,
                report.names.get(r.key, ""),
                *[_raw(getattr(r.metrics, c[0])) for c in COLUMNS],
                r.metrics.compressed_cases,
                *work_cells(report.row_work(r.key)),
            ]
        )
    w.writerow(
        [
            report.period,
            report.by,
            "",
            "total",
            "",
            *[_raw(getattr(report.total, c[0])) for c in COLUMNS],
            report.total.compressed_cases,
            *work_cells(report.work),
        ]
    )
    return out.getvalue()


def table_renderables(report: Report) -> list[Any]:
    """The rich renderables of the table format: the ranking with totals, the trend, notes."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    caption = (
        f"as of {_local(report.as_of)}; composite = {report.weights[0]:g}×response + "
        f"{report.weights[1]:g}×resolution + {report.weights[2]:g}×satisfaction; "
        f"基本满意 weighs {report.basic_weight:g}"
    )

    def cell(value: float | None, kind: str, name: str, compact: bool = False) -> Text:
        text = f"{100 * value:.0f}%" if compact and kind == "rate" and value is not None else fmt(value, kind)
        if name == "overdue_open" and value:
            return Text(text, style="bold red")
        css = _cls(name, value)
        return Text(text, style={"good": "green", "bad": "red", "mid": "yellow"}.get(css, ""))

    tables = []
    for title, names, cap, compact in (
        (f"gridcase report {report.period} by {report.by}: closed loop", SCORE_COLUMNS, caption, False),
        (f"gridcase report {report.period} by {report.by}: process", PROCESS_COLUMNS, time_note(report), True),
    ):
        cols = [c for c in COLUMNS if c[0] in names]
        table = Table(title=title, caption=cap, header_style="bold", row_styles=["", "dim"], box=box.SIMPLE_HEAD)
        table.add_column("#", justify="right")
        table.add_column(report.by)
        for _, short, _, _ in cols:
            table.add_column(short, justify="right")
        for r in report.rows:
            table.add_row(
                str(r.rank), report.label(r.key), *[cell(getattr(r.metrics, c[0]), c[3], c[0], compact) for c in cols]
            )
        table.add_section()
        table.add_row(
            "", Text("total", style="bold"), *[cell(getattr(report.total, c[0]), c[3], c[0], compact) for c in cols]
        )
        tables.append(table)
    trend = Table(title="trend (cases opened per month)", header_style="bold", box=box.SIMPLE_HEAD)
    trend.add_column("month")
    names = ("response_rate", "resolution_rate", "satisfaction_rate", "composite")
    trend.add_column("cases", justify="right")
    for name in names:
        trend.add_column(name.replace("_rate", ""), justify="right")
    for month, m in report.trend:
        trend.add_row(month, str(m.cases), *[cell(getattr(m, n), "rate", n) for n in names])
    items: list[Any] = [*tables, trend, *_work_tables(report, cell)]
    items.extend(Text(f"note: {note}", style="yellow") for note in report.notes)
    return items


def _work_tables(report: Report, cell: Any) -> list[Any]:
    """The table format's tables of the work inside the units (none when the period has none)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    if report.work_by_unit:
        table = Table(
            title=f"gridcase report {report.period}: work inside the units (review, interim replies, corrections)",
            header_style="bold",
            row_styles=["", "dim"],
            box=box.SIMPLE_HEAD,
        )
        table.add_column("unit")
        for _, short, _, _ in WORK_COLUMNS:
            table.add_column(short, justify="right")
        for _, short, _ in CORRECTION_COLUMNS:
            table.add_column(short, justify="right")

        def cells(w: UnitWork) -> list[Any]:
            return [
                *[cell(getattr(w, name), kind, name) for name, _, _, kind in WORK_COLUMNS],
                *[str(getattr(w.corrections, name)) for name, _, _ in CORRECTION_COLUMNS],
            ]

        for key, w in report.work_by_unit.items():
            table.add_row(report.unit_label(key), *cells(w))
        table.add_section()
        table.add_row(Text("total", style="bold"), *cells(report.work))
        out.append(table)
    if report.corrections_by_category:
        table = Table(title="corrections by category", header_style="bold", box=box.SIMPLE_HEAD)
        table.add_column("category")
        for _, short, _ in CORRECTION_COLUMNS:
            table.add_column(short, justify="right")
        for category, counts in report.corrections_by_category.items():
            table.add_row(report.label(category), *[str(getattr(counts, n)) for n, _, _ in CORRECTION_COLUMNS])
        out.append(table)
    if report.people:
        table = Table(
            title=f"load per handler 承办人 (open and overdue as of {_local(report.as_of)}; closed in {report.period})",
            header_style="bold",
            row_styles=["", "dim"],
            box=box.SIMPLE_HEAD,
        )
        table.add_column("handler")
        table.add_column("unit")
        for _, header in PERSON_COLUMNS:
            table.add_column(header, justify="right")
        for p in report.people:
            overdue = Text(str(p.overdue), style="bold red" if p.overdue else "")
            table.add_row(
                report.person_label(p.handler_id), _person_unit(report, p), str(p.open), overdue, str(p.closed)
            )
        out.append(table)
    return out


def _person_unit(report: Report, p: PersonLoad) -> str:
    return report.unit_label(f"{p.unit_kind}:{p.unit_id}") if p.unit_kind and p.unit_id else "-"


def render_table(report: Report, *, width: int = 160) -> str:
    """The table format as plain text (for files and tests)."""
    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=False)
    for item in table_renderables(report):
        console.print(item)
    return console.export_text()


# --- HTML with inline SVG -------------------------------------------------------------------------

_COLORS = {"response_rate": "#1f77b4", "resolution_rate": "#2ca02c", "satisfaction_rate": "#d62728"}
_LABELS = {
    "response_rate": "response 响应率",
    "resolution_rate": "resolution 解决率",
    "satisfaction_rate": "satisfaction 满意率",
}


def svg_trend(trend: list[tuple[str, MetricSet]], *, width: int = 640, height: int = 280) -> str:
    """A line chart (0–100 %) of the three rates per month; gaps where a month has no value."""
    left, right, top, bottom = 48, 16, 16, 64
    pw, ph = width - left - right, height - top - bottom
    n = max(1, len(trend))

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + ph * (1 - v)

    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="trend of response, resolution and satisfaction rates" class="chart trend">'
    ]
    for k in range(0, 101, 25):
        yy = y(k / 100)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{k}%</text>')
    for i, (month, _) in enumerate(trend):
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 18}" text-anchor="middle" font-size="11">{e(month)}</text>')
    for name, color in _COLORS.items():
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, (_, m) in enumerate(trend):
            v = getattr(m, name)
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{color}">'
                f"<title>{e(_LABELS[name])} {100 * v:.1f}%</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.5" points="{" ".join(seg)}"/>')
    lx = left
    for name, color in _COLORS.items():
        parts.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 12}" font-size="12">{e(_LABELS[name])}</text>')
        lx += 190
    parts.append("</svg>")
    return "".join(parts)


def _named(key: str, names: Mapping[str, str] | None) -> str:
    name = (names or {}).get(key)
    return f"{key} {name}" if name and name != key else key


def svg_ranking(
    rows: list[RankRow], *, width: int = 640, bar_height: int = 22, names: Mapping[str, str] | None = None
) -> str:
    """Horizontal bars of the composite score, best first; units without a score are marked.

    ``names``: display names by id, shown beside the ids."""
    left, right, top = (230 if names else 150), 70, 8
    width = width + left - 150
    height = top * 2 + max(1, len(rows)) * (bar_height + 6)
    pw = width - left - right
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="ranking by composite score" class="chart ranking">'
    ]
    for i, r in enumerate(rows):
        yy = top + i * (bar_height + 6)
        parts.append(
            f'<text x="{left - 8}" y="{yy + bar_height * 0.7:.1f}" text-anchor="end" font-size="12">'
            f"{r.rank}. {e(_named(r.key, names))}</text>"
        )
        parts.append(f'<rect x="{left}" y="{yy}" width="{pw}" height="{bar_height}" fill="#f0f0f0"/>')
        v = r.metrics.composite
        if v is None:
            parts.append(
                f'<text x="{left + 6}" y="{yy + bar_height * 0.7:.1f}" font-size="11" fill="#777">'
                "no valid callback yet</text>"
            )
            continue
        color = "#2ca02c" if v >= 0.9 else "#ff7f0e" if v >= 0.7 else "#d62728"
        parts.append(
            f'<rect x="{left}" y="{yy}" width="{pw * v:.1f}" height="{bar_height}" fill="{color}">'
            f"<title>{e(_named(r.key, names))}: composite {100 * v:.1f}%</title></rect>"
        )
        parts.append(f'<text x="{left + pw + 6}" y="{yy + bar_height * 0.7:.1f}" font-size="12">{100 * v:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_heat(
    heat: dict[str, dict[str, int]], categories: list[str], *, cell: int = 44, names: Mapping[str, str] | None = None
) -> str:
    """Overdue open cases by street (rows) and category (columns), darker is more.

    ``names``: display names of the streets by id, shown beside the ids."""
    left, top = (200 if names else 110), 70
    streets = list(heat)
    width = left + max(1, len(categories)) * cell + 16
    height = top + max(1, len(streets)) * cell + 16
    peak = max([v for row in heat.values() for v in row.values()] or [0])
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="overdue open cases by street and category" class="chart heat">'
    ]
    for j, cat in enumerate(categories):
        cx = left + j * cell + cell / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{top - 8}" font-size="11" text-anchor="start" '
            f'transform="rotate(-35 {cx:.1f} {top - 8})">{e(cat)}</text>'
        )
    for i, street in enumerate(streets):
        yy = top + i * cell
        parts.append(
            f'<text x="{left - 8}" y="{yy + cell / 2 + 4:.1f}" text-anchor="end" font-size="12">'
            f"{e(_named(street, names))}</text>"
        )
        for j, cat in enumerate(categories):
            v = heat[street].get(cat)
            xx = left + j * cell
            if v is None:
                fill, label = "#fafafa", ""
            else:
                level = 0.0 if peak == 0 else v / peak
                red = 255
                gb = int(235 - 190 * level)
                fill, label = f"#{red:02x}{gb:02x}{gb:02x}", str(v)
            title = f"{_named(street, names)} / {cat}: {label or 'no case'}"
            parts.append(
                f'<rect x="{xx}" y="{yy}" width="{cell - 2}" height="{cell - 2}" fill="{fill}" '
                f'stroke="#ccc"><title>{e(title)}</title></rect>'
            )
            if label:
                parts.append(
                    f'<text x="{xx + cell / 2 - 1:.1f}" y="{yy + cell / 2 + 4:.1f}" text-anchor="middle" '
                    f'font-size="12">{label}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;
color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .meta{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:12.5px;margin-top:8px} th,td{padding:4px 8px;border-bottom:1px solid #e5e5e5}
th{background:#f6f6f6;text-align:right} th:nth-child(-n+2),td:nth-child(-n+2){text-align:left} td{text-align:right}
tr.total td{font-weight:bold;border-top:2px solid #999} .good{color:#16803c} .bad{color:#c62828} .mid{color:#b26a00}
.cards{display:flex;gap:12px;flex-wrap:wrap} .card{border:1px solid #e5e5e5;border-radius:8px;padding:10px 14px;
min-width:120px} .card b{display:block;font-size:22px} .card span{color:#666;font-size:12px}
.grid2{display:flex;gap:32px;flex-wrap:wrap}
"""


def _cls(name: str, value: float | None) -> str:
    if value is None:
        return ""
    if name in ("rework_rate", "return_rate", "sent_back_rate"):
        return "good" if value <= 0.05 else "bad" if value >= 0.2 else "mid"
    if name.endswith("_rate") or name == "composite":
        return "good" if value >= 0.9 else "bad" if value < 0.7 else "mid"
    return ""


def render_html(report: Report) -> str:
    """A self-contained HTML page (inline CSS and SVG; opens offline)."""
    e = html.escape
    t = report.total
    cards = [
        ("cases", str(t.cases)),
        ("composite 综合", fmt(t.composite, "rate")),
        ("response 响应率", fmt(t.response_rate, "rate")),
        ("resolution 解决率", fmt(t.resolution_rate, "rate")),
        ("satisfaction 满意率", fmt(t.satisfaction_rate, "rate")),
        ("on-time resolution", fmt(t.on_time_resolution_rate, "rate")),
        ("overdue open", str(t.overdue_open)),
        ("p90 handling h" if t.compressed_cases == 0 else "p90 handling, policy h", fmt(t.p90_handling_hours, "hours")),
    ]
    head = "".join(f"<th>{e(c[1])}</th>" for c in COLUMNS)
    body = []
    for r in report.rows:
        cells = "".join(
            f'<td class="{_cls(c[0], getattr(r.metrics, c[0]))}">{fmt(getattr(r.metrics, c[0]), c[3])}</td>'
            for c in COLUMNS
        )
        body.append(f"<tr><td>{r.rank}</td><td>{e(report.label(r.key))}</td>{cells}</tr>")
    total_cells = "".join(f"<td>{fmt(getattr(t, c[0]), c[3])}</td>" for c in COLUMNS)
    body.append(f'<tr class="total"><td></td><td>total</td>{total_cells}</tr>')
    legend = "".join(f"<li><b>{e(c[1])}</b>: {e(c[2])}</li>" for c in COLUMNS)
    work = _html_work(report)
    w = report.weights
    note = time_note(report)
    notes = "".join(f"<p class='meta'>note: {e(n)}</p>" for n in [*report.notes, *([note] if note else [])])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gridcase report {e(report.period)} by {e(report.by)}</title>
<style>{_CSS}</style></head>
<body>
<h1>gridcase closed-loop report: {e(report.period)}, by {e(report.by)}</h1>
<p class="meta">cases opened in {e(report.period)} (Asia/Shanghai); open-case figures as of {e(_local(report.as_of))}.
composite = {w[0]:g} × response + {w[1]:g} × resolution + {w[2]:g} × satisfaction;
satisfaction = (满意 + {report.basic_weight:g} × 基本满意) / valid callbacks.</p>
{notes}
<div class="cards">{"".join(f"<div class='card'><b>{e(v)}</b><span>{e(k)}</span></div>" for k, v in cards)}</div>
<div class="grid2">
<section><h2>Trend of the three rates</h2>{svg_trend(report.trend)}</section>
<section><h2>Ranking by composite ({e(report.by)})</h2>{svg_ranking(report.rows, names=report.names)}</section>
</div>
<section><h2>Overdue open cases by street and category</h2>
{svg_heat(report.heat, report.heat_categories, names=report.names)}</section>
<section><h2>All figures</h2>
<table><thead><tr><th>#</th><th>{e(report.by)}</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<ul class="meta">{legend}</ul></section>
{work}
</body></html>
"""


def _html_work(report: Report) -> str:
    """The HTML sections of the work inside the units (empty when the period has none)."""
    if not report.has_work:
        return ""
    e = html.escape
    parts: list[str] = []
    if report.work_by_unit:
        head = "".join(f"<th>{e(c[1])}</th>" for c in WORK_COLUMNS) + "".join(
            f"<th>{e(c[1])}</th>" for c in CORRECTION_COLUMNS
        )

        def cells(w: UnitWork, styled: bool = True) -> str:
            out = "".join(
                f'<td class="{_cls(name, getattr(w, name)) if styled else ""}">{fmt(getattr(w, name), kind)}</td>'
                for name, _, _, kind in WORK_COLUMNS
            )
            return out + "".join(f"<td>{getattr(w.corrections, name)}</td>" for name, _, _ in CORRECTION_COLUMNS)

        rows = [f"<tr><td>{e(report.unit_label(k))}</td>{cells(w)}</tr>" for k, w in report.work_by_unit.items()]
        rows.append(f'<tr class="total"><td>total</td>{cells(report.work, styled=False)}</tr>')
        legend = "".join(f"<li><b>{e(c[1])}</b>: {e(c[2])}</li>" for c in WORK_COLUMNS) + "".join(
            f"<li><b>{e(c[1])}</b>: {e(c[2])}</li>" for c in CORRECTION_COLUMNS
        )
        parts.append(
            "<section><h2>Work inside the units: review, interim replies, corrections</h2>"
            f'<table class="work"><thead><tr><th>unit</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<ul class="meta">{legend}</ul></section>'
        )
    if report.corrections_by_category:
        head = "".join(f"<th>{e(c[1])}</th>" for c in CORRECTION_COLUMNS)
        rows = [
            f"<tr><td>{e(report.label(cat))}</td>"
            + "".join(f"<td>{getattr(counts, n)}</td>" for n, _, _ in CORRECTION_COLUMNS)
            + "</tr>"
            for cat, counts in report.corrections_by_category.items()
        ]
        parts.append(
            "<section><h2>Corrections by category</h2>"
            f'<table class="corrections"><thead><tr><th>category</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )
    if report.people:
        head = "".join(f"<th>{e(h)}</th>" for _, h in PERSON_COLUMNS)
        rows = [
            f"<tr><td>{e(report.person_label(p.handler_id))}</td><td>{e(_person_unit(report, p))}</td>"
            f'<td>{p.open}</td><td class="{"bad" if p.overdue else ""}">{p.overdue}</td><td>{p.closed}</td></tr>'
            for p in report.people
        ]
        parts.append(
            "<section><h2>Load per handler 承办人</h2>"
            f'<p class="meta">open and overdue cases as of {e(_local(report.as_of))}, whenever opened; '
            f"cases closed in {e(report.period)}.</p>"
            f'<table class="people"><thead><tr><th>handler</th><th>unit</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )
    return "\n".join(parts)


def render(report: Report, fmt_name: str) -> str:
    """``table``, ``csv`` or ``html``."""
    if fmt_name == "table":
        return render_table(report)
    if fmt_name == "csv":
        return render_csv(report)
    if fmt_name == "html":
        return render_html(report)
    raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt_name!r}")
