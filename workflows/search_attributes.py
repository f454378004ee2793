"""The custom search attributes of the case workflow: the one list.

The workflow sets them (:mod:`workflows.case_workflow`), queries filter on them (``GridcaseStatus='handling'``
...), and :data:`SEARCH_ATTRIBUTES` is what gets registered: by ``gridcase stack up`` on the dev server
(:mod:`deploy.stack`) and by ``gridcase temporal setup`` on a cluster (:mod:`deploy.temporal_setup`).
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

SA_STATUS = SearchAttributeKey.for_keyword("GridcaseStatus")
SA_CATEGORY = SearchAttributeKey.for_keyword("GridcaseCategory")
SA_URGENCY = SearchAttributeKey.for_keyword("GridcaseUrgency")
SA_DISTRICT = SearchAttributeKey.for_keyword("GridcaseDistrict")
SA_STREET = SearchAttributeKey.for_keyword("GridcaseStreet")
SA_GRID = SearchAttributeKey.for_keyword("GridcaseGrid")
SA_UNITS = SearchAttributeKey.for_keyword_list("GridcaseUnits")
SA_NEXT_DUE = SearchAttributeKey.for_datetime("GridcaseNextDue")
SA_BREACHED = SearchAttributeKey.for_bool("GridcaseBreached")
#: The member of the handling unit the case is with (承办人): ``GridcaseHandler='<person id>'`` lists
#: a person's cases. Set once a case is assigned or taken; unset when it leaves that member.
SA_HANDLER = SearchAttributeKey.for_keyword("GridcaseHandler")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    SA_STATUS,
    SA_CATEGORY,
    SA_URGENCY,
    SA_DISTRICT,
    SA_STREET,
    SA_GRID,
    SA_UNITS,
    SA_NEXT_DUE,
    SA_BREACHED,
    SA_HANDLER,
)

_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

#: Name → Temporal type name (as the ``temporal`` CLI spells it) of every custom search attribute.
SEARCH_ATTRIBUTES: dict[str, str] = {key.name: _TYPE_NAMES[key.indexed_value_type] for key in ALL_KEYS}
