"""The read model's SQL tables (SQLAlchemy Core), projected from case events.

Every table is keyed by natural keys taken from the events (case id, seq, clock id, whistle round,
department), never by autoincrement ids, so replaying the same events always yields the same rows.
No personal data is stored: no resident name, phone or id, and no free-text comments.

Times are stored as timezone-aware UTC datetimes (``DateTime(timezone=True)``; SQLite keeps them
as naive UTC text, :func:`events.times.as_utc` puts the zone back when reading).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

TS = DateTime(timezone=True)


cases = Table(
    "rm_cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("channel", String(32)),
    Column("category", String(64)),
    Column("urgency", String(16)),
    Column("title", String(200)),
    Column("district_id", String(128)),
    Column("street_id", String(128)),
    Column("community_id", String(128)),
    Column("grid_id", String(128)),
    Column("unit_kind", String(16)),  # current assignee
    Column("unit_id", String(128)),
    Column("accepted", Boolean, nullable=False, default=False),
    Column("opened_at", TS),
    Column("registered_at", TS),
    Column("dispatched_at", TS),  # first dispatch
    Column("accepted_at", TS),  # first acceptance
    Column("contacted_at", TS),  # first contact with the resident
    Column("resolved_at", TS),  # last resolution (cleared by rework or reopening)
    Column("first_resolved_at", TS),
    Column("verified_at", TS),
    Column("callback_at", TS),
    Column("closed_at", TS),
    Column("closure_type", String(16)),
    Column("rating", String(32)),
    Column("callback_resolved", Boolean),
    Column("next_due_at", TS),  # earliest due time among running clocks
    Column("breached", Boolean, nullable=False, default=False),
    Column("dispatch_count", Integer, nullable=False, default=0),
    Column("return_count", Integer, nullable=False, default=0),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("rework_count", Integer, nullable=False, default=0),
    Column("whistle_count", Integer, nullable=False, default=0),
    Column("escalation_count", Integer, nullable=False, default=0),
    Column("self_handled", Boolean, nullable=False, default=False),  # resolved by the grid itself
    Column("shelved", Boolean, nullable=False, default=False),
    Column("shelved_from", String(32)),  # the status to go back to when taken out of the register
    Column("terminated", Boolean, nullable=False, default=False),
    Column("excluded_from_evaluation", Boolean, nullable=False, default=False),  # appeal granted
    Column("merged_into", String(64)),
    Column("updated_at", TS),  # occurred_at of the last applied event
    Column("last_seq", Integer, nullable=False, default=0),
    # Wall-clock seconds per policy hour when the case runs on compressed time (from its first
    # sla.clock_started that carries one); NULL = real time, or no clock started yet.
    Column("time_scale", Float),
    # The case's point (WGS 84) when the intake gave coordinates; NULL when it named a grid or an address.
    Column("lat", Float),
    Column("lon", Float),
    # Inside the unit handling the case: the member (承办人) and the section (科室) it is with now;
    # NULL until the unit assigns it (or a member takes it), and again after a dispatch elsewhere.
    Column("handler_id", String(128)),
    Column("section_id", String(64)),
    Column("assign_count", Integer, nullable=False, default=0, server_default="0"),
    # Internal review (审核签发): replies submitted for review, how many were sent back, who signed the
    # last approved one off (NULL: none approved, or the unit needs no review).
    Column("reply_rounds", Integer, nullable=False, default=0, server_default="0"),
    Column("sent_back_count", Integer, nullable=False, default=0, server_default="0"),
    Column("approved_by", String(128)),
    # Interim replies (阶段性答复) given to the resident, and how many of them after their due time.
    Column("interim_replies", Integer, nullable=False, default=0, server_default="0"),
    Column("interim_late", Integer, nullable=False, default=0, server_default="0"),
    # Corrections by the hotline: reclassified, urgency changed, relocated (each one counts).
    Column("corrections", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_rm_cases_status", "status"),
    Index("ix_rm_cases_handler", "handler_id"),
    Index("ix_rm_cases_street", "street_id"),
    Index("ix_rm_cases_grid", "grid_id"),
    Index("ix_rm_cases_opened", "opened_at"),
    Index("ix_rm_cases_next_due", "next_due_at"),
)

timeline = Table(
    "rm_case_timeline",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event_id", String(100), nullable=False),
    Column("type", String(64), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("actor_unit", String(128)),
    Column("actor_person", String(128)),
    Column("occurred_at", TS, nullable=False),
    Column("unit_kind", String(16)),  # the unit the event is about, if any
    Column("unit_id", String(128)),
    Column("clock_id", String(64)),  # the clock an SLA event is about
    Column("clock_kind", String(32)),
    Column("due_at", TS),
    Column("detail", Text),  # a short, personal-data-free summary of the event's key fields
)

assignments = Table(
    "rm_assignments",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("assignment_id", String(64), primary_key=True),  # "d<seq>" for a dispatch, "w<round>:<dept>", "v<seq>"
    Column("kind", String(16), nullable=False),  # dispatch | whistle | volunteer (a volunteer team called in)
    Column("unit_kind", String(16), nullable=False),
    Column("unit_id", String(128), nullable=False),
    Column("round", Integer),  # whistle round
    Column("assigned_at", TS, nullable=False),
    Column("final_ruling", Boolean, nullable=False, default=False),
    Column("first_due_at", TS),  # accept (dispatch) or report-in (whistle) deadline
    Column("resolve_due_at", TS),
    Column("accepted_at", TS),
    Column("reported_at", TS),
    Column("contacted_at", TS),
    Column("returned_at", TS),
    Column("return_reason", String(32)),
    Column("resolved_at", TS),
    Column("completed_at", TS),
    Column("first_on_time", Boolean),  # accepted / reported in before the first deadline
    # open|accepted|returned|resolved|completed|replaced (dispatched elsewhere)|recalled (by a relocation)
    # |released (a volunteer call ended)
    Column("status", String(16), nullable=False),
    Index("ix_rm_assignments_unit", "unit_kind", "unit_id"),
)

clocks = Table(
    "rm_clocks",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("clock_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("unit_kind", String(16), nullable=False),
    Column("unit_id", String(128), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("due_at", TS, nullable=False),  # after extensions, resumes and recomputes
    # The budget the clock started with; after a correction recomputed it (sla.clock_recomputed), the
    # recomputed budget, which includes the extensions granted before.
    Column("budget_seconds", Float, nullable=False),
    Column("working_time", Boolean, nullable=False),
    Column("extended_seconds", Float, nullable=False, default=0.0),
    Column("paused", Boolean, nullable=False, default=False),
    Column("warned_at", TS),
    Column("warnings", Integer, nullable=False, default=0),
    Column("breached_at", TS),
    Column("stopped_at", TS),
    Column("outcome", String(16)),  # met | late | cancelled
    Column("rungs", Integer, nullable=False, default=0),
    Column("time_scale", Float),  # wall-clock seconds per policy hour on compressed time; NULL = real time
    Index("ix_rm_clocks_unit", "unit_kind", "unit_id"),
)

whistles = Table(
    "rm_whistles",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("street_id", String(128), nullable=False),
    Column("blown_at", TS, nullable=False),
    Column("departments", Integer, nullable=False),
    Column("reported", Integer, nullable=False, default=0),
    Column("completed", Integer, nullable=False, default=0),
)

callbacks = Table(
    "rm_callbacks",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("occurred_at", TS, nullable=False),
    Column("rating", String(32), nullable=False),
    Column("resolved", Boolean, nullable=False),
    Column("valid", Boolean, nullable=False),  # the resident was reached
    Column("unit_kind", String(16)),  # the handling unit at the time
    Column("unit_id", String(128)),
)

escalations = Table(
    "rm_escalations",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("occurred_at", TS, nullable=False),
    Column("level", String(32), nullable=False),
    Column("clock_id", String(64)),
    Column("clock_kind", String(32)),
    Column("unit_kind", String(16), nullable=False),
    Column("unit_id", String(128), nullable=False),
    Column("manual", Boolean, nullable=False),  # ordered by a supervisor rather than by a clock
)

#: Tables holding per-case rows other than the case itself, rewritten per case by the projector.
CHILD_TABLES: tuple[Table, ...] = (assignments, clocks, whistles, callbacks, escalations)
#: Every read-model table, parents first.
ALL_TABLES: tuple[Table, ...] = (cases, timeline, *CHILD_TABLES)
