"""The API's routers, one per resource: ``meta`` (health, readiness, ``/me``), ``cases`` (intake,
reading, lists), ``actions`` (one route per catalogue action, and what a caller may do now),
``metrics`` and ``live`` (server-sent events)."""
