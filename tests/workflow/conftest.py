"""Fixtures for workflow tests on Temporal's time-skipping test server.

The case worker runs in-process against the time-skipping server; its publishing activity sends
to the real Kafka broker of the local stack (a fresh topic prefix per session), so no fake stands
in for either service. One worker serves the whole session: the test server only skips time when
no workflow is waiting for a worker, so every open case must keep one. The test server does not
implement update-with-start, so the case client opens cases with its two-call equivalent (start
with USE_EXISTING, then the same update id).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.integration.conftest import stack_settings  # noqa: F401 - fixture re-exported
from workers.case_client import CaseClient
from workers.composition import build_worker
from workers.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTES

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    test_server = Path(sys.executable).parent / "temporal-test-server"
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(test_server)
    )
    await environment.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=environment.client.namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def wf_settings(stack_settings: Settings) -> Settings:  # noqa: F811
    from events.topics import ensure_topics

    # the workflow layer runs in Temporal's sandbox, which catches non-deterministic calls that
    # production workers (unsandboxed by default) would not notice
    settings = stack_settings.model_copy(update={"topic_prefix": f"wf{uuid.uuid4().hex[:8]}", "worker_sandboxed": True})
    ensure_topics(settings, partitions=1)
    return settings


@pytest.fixture(scope="session")
async def cases(env: WorkflowEnvironment, wf_settings: Settings) -> AsyncIterator[CaseClient]:
    task_queue = f"cases-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, wf_settings, task_queue=task_queue):
        yield CaseClient(env.client, task_queue, update_with_start=False)
