"""``gridcase temporal setup`` (the deployment's namespace job) against the real dev server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    DeleteNamespaceRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from deploy.temporal_setup import SetupError, setup_temporal
from workers.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTES

pytestmark = pytest.mark.integration
GRIDCASE = str(Path(sys.executable).parent / "gridcase")


def run_setup(settings: Settings, namespace: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDCASE_TEMPORAL_ADDRESS": settings.temporal_address}
    return subprocess.run(
        [GRIDCASE, "temporal", "setup", "--namespace", namespace, "--retention-days", "2", "--wait", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_setup_creates_namespace_and_search_attributes_once(stack_settings: Settings) -> None:
    ns = f"gc-setup-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(stack_settings.temporal_address)
    try:
        first = run_setup(stack_settings, ns)
        assert first.returncode == 0, first.stderr[-2000:]
        assert f"namespace {ns}: created" in first.stdout
        assert all(f"search attribute {name}: created" in first.stdout for name in SEARCH_ATTRIBUTES)
        described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=ns))
        assert described.config.workflow_execution_retention_ttl.ToSeconds() == 2 * 86400
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
        assert {
            n: IndexedValueType.Name(t).removeprefix("INDEXED_VALUE_TYPE_")
            for n, t in listed.custom_attributes.items()
            if n.startswith("Gridcase")
        } == {n: {"KeywordList": "KEYWORD_LIST"}.get(t, t.upper()) for n, t in SEARCH_ATTRIBUTES.items()}

        again = run_setup(stack_settings, ns)  # the job may run on every deployment
        assert again.returncode == 0, again.stderr[-2000:]
        assert f"namespace {ns}: exists" in again.stdout and "created" not in again.stdout
    finally:
        with contextlib.suppress(Exception):
            await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=ns))


async def test_setup_refuses_an_attribute_registered_with_another_type(stack_settings: Settings) -> None:
    ns = f"gc-setup-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(stack_settings.temporal_address)
    period = Duration()
    period.FromSeconds(86400)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=ns, workflow_execution_retention_period=period)
    )
    try:

        async def add_wrong_type() -> None:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=ns, search_attributes={"GridcaseStatus": IndexedValueType.INDEXED_VALUE_TYPE_INT}
                )
            )

        await retry_until_namespace_known(add_wrong_type)
        with pytest.raises(SetupError, match="GridcaseStatus is registered as INDEXED_VALUE_TYPE_INT"):
            await setup_temporal(stack_settings.temporal_address, ns, wait_s=30)
    finally:
        with contextlib.suppress(Exception):
            await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=ns))


async def retry_until_namespace_known(call) -> None:
    """A just-registered namespace takes a moment to reach the frontend's cache."""
    for _ in range(60):
        try:
            await call()
            return
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.5)
    await call()
