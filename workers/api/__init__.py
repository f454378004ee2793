"""The HTTP API and the dispatcher console (``gridcase api``).

* :mod:`workers.api.users` — API users and their tokens, stored hashed in the SQL database.
* :mod:`workers.api.auth` — principals, roles and jurisdictions: who may read and do what.
* :mod:`workers.api.views` — what a case looks like to each role (personal data removed for units).
* :mod:`workers.api.live` — case events from Kafka fanned out to server-sent-event clients.
* :mod:`workers.api.app` — the FastAPI application; the console's static files are in ``console/``.

Nothing connects at import: :func:`workers.api.app.create_app` builds the app, its lifespan
connects to Temporal, the database and Kafka.
"""
