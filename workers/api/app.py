"""The gridcase HTTP API and the workspace (FastAPI): :func:`create_app`.

* ``POST /cases`` — intake, idempotent on the ``Idempotency-Key`` header: the key (scoped to the
  caller) gives a stable case id, and a retry returns the same case, never a second one.
* ``POST /cases/{case_id}/{action}`` — one endpoint per catalogue action (``dispatch``, ``accept``,
  ``whistle``, ``report-in``...), each the workflow's ``act`` update. The actor is the caller;
  an optional ``Request-Id`` header makes a retried call apply once.
* ``GET /cases/{case_id}/actions`` — what the caller may do on the case now, with the forms.
* ``GET /cases/{case_id}`` — the case with its clocks and timeline, from the workflow's queries.
* ``GET /cases`` — lists with filters, from the read model.
* ``GET /events`` — live notices (server-sent events) fed from Kafka.
* ``GET /healthz`` (liveness), ``GET /readyz`` (readiness), ``GET /me``.
* ``GET /openapi.json`` — the OpenAPI document (the workspace's typed client is generated from it).
  No Swagger UI or ReDoc page: they load their scripts from a CDN, and nothing here does.
* ``GET /app/`` — the workspace (the Vue front end built from ``workers/api/web``; ``/`` redirects
  there): :mod:`workers.api.routes.web`.

The routes are in :mod:`workers.api.routes`, their dependencies in :mod:`workers.api.deps`, the
bodies in :mod:`workers.api.schemas`, errors and their handlers in :mod:`workers.api.errors`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from workers.api.deps import Services, no_unknown_query
from workers.api.errors import install_error_handlers
from workers.api.live import LiveFeed
from workers.api.routes import actions as action_routes
from workers.api.routes import admin as admin_routes
from workers.api.routes import cases as case_routes
from workers.api.routes import dashboard as dashboard_routes
from workers.api.routes import live as live_routes
from workers.api.routes import map as map_routes
from workers.api.routes import members as member_routes
from workers.api.routes import meta as meta_routes
from workers.api.routes import metrics as metric_routes
from workers.api.routes import public as public_routes
from workers.api.routes import queue as queue_routes
from workers.api.routes import registry as registry_routes
from workers.api.routes import unit_load as unit_load_routes
from workers.api.routes import web as web_routes
from workers.api.users import UserStore
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.domain.actions import CATALOGUE, Catalogue
from workflows.domain.registry import CityRegistry


def create_engine_for(settings: Settings) -> Engine:
    """The engine of the SQL database (the read model's tables and the API's own), from the composition root."""
    from workers.composition import build_readmodel_engine

    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return build_readmodel_engine(settings)


def create_app(
    settings: Settings,
    *,
    cases: CaseClient | None = None,
    engine: Engine | None = None,
    registry: CityRegistry | None = None,
    live: bool = True,
    catalogue: Catalogue = CATALOGUE,
) -> FastAPI:
    """The API app. Its lifespan migrates the read model and creates the API's tables when missing
    (unless ``engine`` is given), connects to Temporal (unless ``cases`` is given), and starts the live
    feed from Kafka (unless ``live`` is false). The action routes come from ``catalogue``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from workers.composition import build_registry, connect_temporal

        if engine is None:
            from readmodel.db import migrate

            # The lists and metrics read the read model: bring its schema to head (serialised
            # across processes), so a newer API never queries an older schema.
            await asyncio.to_thread(migrate, settings.resolved_database_url)
        eng = engine or create_engine_for(settings)
        store = UserStore(eng)
        await asyncio.to_thread(store.create_tables)
        city: CityRegistry = registry if registry is not None else await asyncio.to_thread(build_registry, settings)
        cc = cases or CaseClient(await connect_temporal(settings), settings.task_queue)
        feed = LiveFeed(settings) if live else None
        if feed is not None:
            feed.start()
        app.state.services = Services(settings, cc, store, eng, city, feed, catalogue)
        try:
            yield
        finally:
            if feed is not None:
                await asyncio.to_thread(feed.stop)
            if engine is None:
                eng.dispose()

    app = FastAPI(
        dependencies=[Depends(no_unknown_query)],
        title="gridcase API",
        version="1",
        description="Cases of city grid governance: intake, actions by role and jurisdiction, clocks, "
        "timelines, lists and live events.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: /openapi.json is the reference
        redoc_url=None,
    )
    app.state.stopping = threading.Event()  # set by `gridcase api` on SIGINT/SIGTERM: live streams end
    install_error_handlers(app)
    app.include_router(meta_routes.router)
    app.include_router(case_routes.router)
    app.include_router(action_routes.build_router(catalogue))
    app.include_router(metric_routes.router)
    app.include_router(live_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(member_routes.router)
    app.include_router(queue_routes.router)
    app.include_router(unit_load_routes.router)
    app.include_router(map_routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(public_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(web_routes.router)
    return app
