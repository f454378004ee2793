"""Proof: a workflow and its activity run to completion on the real Temporal dev server of the stack."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from workers.settings import Settings
from workflows.search_attributes import SA_STATUS, SA_UNITS, SEARCH_ATTRIBUTES

pytestmark = pytest.mark.integration

STATUS = SA_STATUS
UNITS = SA_UNITS


@activity.defn(name="proof_greet")
async def proof_greet(name: str) -> str:
    """The trivial activity."""
    return f"hello, {name}"


@workflow.defn(name="ProofWorkflow", sandboxed=False)
class ProofWorkflow:
    """Calls the activity once and returns its result."""

    @workflow.run
    async def run(self, name: str) -> str:
        greeting = await workflow.execute_activity(proof_greet, name, start_to_close_timeout=timedelta(seconds=30))
        workflow.upsert_search_attributes([STATUS.value_set("closed")])
        return greeting


async def _client(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


async def test_workflow_and_activity_complete_on_the_dev_server(stack_settings: Settings) -> None:
    client = await _client(stack_settings)
    task_queue = f"gridcase-proof-{uuid.uuid4().hex[:12]}"
    workflow_id = f"proof-{uuid.uuid4().hex}"
    async with Worker(client, task_queue=task_queue, workflows=[ProofWorkflow], activities=[proof_greet]):
        handle = await client.start_workflow(
            ProofWorkflow.run,
            "grid 7",
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(STATUS, "open"), SearchAttributePair(UNITS, ["street-a", "dept-water"])]
            ),
        )
        assert await handle.result() == "hello, grid 7"

    desc = await handle.describe()
    assert desc.status is not None and desc.status.name == "COMPLETED"
    assert desc.typed_search_attributes.get(STATUS) == "closed"
    assert desc.typed_search_attributes.get(UNITS) == ["street-a", "dept-water"]

    history = await handle.fetch_history()
    kinds = {e.WhichOneof("attributes") for e in history.events}
    assert "activity_task_completed_event_attributes" in kinds


async def test_case_search_attributes_are_registered(stack_settings: Settings) -> None:
    client = await _client(stack_settings)
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=stack_settings.temporal_namespace)
    )
    registered = {name: IndexedValueType.Name(t) for name, t in resp.custom_attributes.items()}
    for name, type_ in SEARCH_ATTRIBUTES.items():
        expected = "INDEXED_VALUE_TYPE_" + {"KeywordList": "KEYWORD_LIST"}.get(type_, type_.upper())
        assert registered.get(name) == expected, (name, registered.get(name))
