"""The HTTP API and the workspace (``gridcase api``).

* :mod:`workers.api.users` — API users and their tokens, stored hashed in the SQL database.
* :mod:`workers.api.auth` — principals, roles and jurisdictions: who may read and do what.
* :mod:`workers.api.views` — what a case looks like to each role (personal data removed for units).
* :mod:`workers.api.live` — case events from Kafka fanned out to server-sent-event clients.
* :mod:`workers.api.app` — :func:`~workers.api.app.create_app`, the FastAPI application; the
  workspace (a Vue front end) is built from ``web/`` and served from ``web/dist`` under ``/app/``.
* :mod:`workers.api.routes` — one router per resource (``meta``, ``cases``, ``actions``, ``metrics``,
  ``live``, ``registry``, ``queue``, ``map``, ``dashboard``, ``public``, ``admin``, ``web``); the
  action routes come from the action catalogue.
* :mod:`workers.api.deps` — the routes' dependencies (services, the caller, shared parameters).
* :mod:`workers.api.schemas` — request and response bodies.
* :mod:`workers.api.errors` — error bodies, ``responses=`` for OpenAPI, the exception handlers.

Nothing connects at import: :func:`workers.api.app.create_app` builds the app, its lifespan
connects to Temporal, the database and Kafka.
"""
