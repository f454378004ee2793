"""Register gridcase's Temporal namespace and search attributes on a Temporal cluster (idempotent).

The local dev server gets them from ``gridcase stack up``; a production cluster gets them from the
one-shot job of ``deploy/compose/compose.yaml`` and ``deploy/k8s/jobs.yaml``, which runs
``gridcase temporal setup``. Safe to run any number of times: what exists is left alone, an
attribute registered with another type is an error the operator must resolve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.search_attributes import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)

_TYPES: dict[str, IndexedValueType.ValueType] = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


class SetupError(RuntimeError):
    """The cluster cannot be brought to what gridcase needs; the message says why."""


@dataclass
class SetupResult:
    namespace: str
    namespace_created: bool
    attributes_created: list[str] = field(default_factory=list)
    attributes_present: list[str] = field(default_factory=list)


async def _connect(address: str, namespace: str, wait_s: float) -> Client:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except Exception as exc:  # the frontend is not up yet
            if time.monotonic() >= deadline:
                raise SetupError(f"Temporal at {address} did not answer within {wait_s:.0f} s: {exc}") from exc
            log.info("waiting for Temporal at %s: %s", address, exc)
            await asyncio.sleep(2)


async def setup_temporal(
    address: str, namespace: str, *, retention: timedelta = timedelta(days=30), wait_s: float = 120.0
) -> SetupResult:
    """Create ``namespace`` if missing, then any missing gridcase search attribute.

    Args:
        address: ``host:port`` of the Temporal frontend.
        namespace: the namespace gridcase's cases run in.
        retention: how long closed workflow histories are kept (new namespace only).
        wait_s: how long to wait for the frontend to answer, and for a new namespace to be usable.

    Raises:
        SetupError: the frontend never answered, or an attribute exists with another type.
    """
    if retention < timedelta(days=1):
        raise ValueError(f"retention: must be at least one day, got {retention}")
    client = await _connect(address, namespace, wait_s)
    ns = namespace
    created = False
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=ns))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        period = Duration()
        period.FromTimedelta(retention)
        try:
            await client.workflow_service.register_namespace(
                RegisterNamespaceRequest(namespace=ns, workflow_execution_retention_period=period)
            )
            created = True
            log.info("registered namespace %s (retention %s)", ns, retention)
        except RPCError as exc2:
            if exc2.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    result = SetupResult(namespace=ns, namespace_created=created)
    deadline = time.monotonic() + wait_s
    while True:  # a new namespace takes a few seconds to reach every frontend
        try:
            listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
            break
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(1)
    have = dict(listed.custom_attributes)
    missing: dict[str, IndexedValueType.ValueType] = {}
    for name, type_name in SEARCH_ATTRIBUTES.items():
        want = _TYPES[type_name]
        if name not in have:
            missing[name] = want
        elif have[name] != want:
            raise SetupError(
                f"search attribute {name} is registered as {IndexedValueType.Name(have[name])}, gridcase needs "
                f"{IndexedValueType.Name(want)}: remove it (temporal operator search-attribute remove) and rerun"
            )
        else:
            result.attributes_present.append(name)
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(search_attributes=missing, namespace=ns)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
        result.attributes_created = sorted(missing)
        log.info("registered search attributes %s in %s", ", ".join(sorted(missing)), ns)
    return result
