"""How the ``gridcase`` command line meets a service that is not there, and its shared root group.

Every command that needs Temporal, Kafka or the SQL database can meet it down. Instead of each
command catching its client library's exceptions, the root command group (:class:`GridcaseGroup`)
recognises them (:func:`service_failure`) and prints one line naming the service, its address and
how to start it, then exits with 1, e.g. ``Temporal is not reachable at localhost:7233 (connection
refused): start the local stack with `gridcase stack up`, or set GRIDCASE_TEMPORAL_ADDRESS``.

Any other exception keeps its traceback: it is a bug to fix, not a service to start.

The help of every command is rendered without Rich markup (``rich_markup_mode=None`` on the root,
which typer hands down to every group and command registered under it): help texts such as
``ROLE[:UNIT][/PERSON]`` are plain text, never markup.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

#: Where the hint points for each service.
_START = {
    "Temporal": "start the local stack with `gridcase stack up`, or set GRIDCASE_TEMPORAL_ADDRESS",
    "Kafka": "start the local stack with `gridcase stack up`, or set GRIDCASE_KAFKA_BOOTSTRAP",
    "database": "start the database server, or set GRIDCASE_DATABASE_URL (unset, gridcase uses SQLite in "
    "the state directory, next to the stack `gridcase stack up` starts)",
}


class ServiceUnavailable(Exception):
    """A service a command needs is not reachable; :attr:`line` is what the operator reads."""

    def __init__(self, service: str, address: str, reason: str = "") -> None:
        self.service, self.address, self.reason = service, address, reason
        label = "the SQL database" if service == "database" else service
        why = f" ({reason})" if reason else ""
        self.line = f"{label} is not reachable at {address}{why}: {_START[service]}"
        super().__init__(self.line)


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "timed out" in low or "timeout" in low:
        return "timed out"
    if "unable to open database file" in low:
        return "unable to open the database file"
    if "name or service not known" in low or "nodename nor servname" in low or "failed to resolve" in low:
        return "unknown host"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:160]


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    first = address.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host:
        return first, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return first, default_port


def safe_database_url(url: str) -> str:
    """The URL with its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _database_down(url: str, err: BaseException) -> bool:
    """Whether ``err`` (a SQLAlchemy operational error) means the database cannot be reached at all."""
    from sqlalchemy.engine import make_url

    text = str(getattr(err, "orig", None) or err).lower()
    if "unable to open database file" in text:
        return True
    try:
        parsed = make_url(url)
    except Exception:
        return False
    if parsed.get_backend_name() == "sqlite" or not parsed.host:
        return False
    default = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}.get(parsed.get_backend_name(), 5432)
    return not tcp_open(parsed.host, parsed.port or default)


def service_failure(err: BaseException, settings: Any | None = None) -> ServiceUnavailable | None:
    """The service ``err`` says is unreachable, or ``None`` when it is some other failure.

    Recognised: Temporal's connect failure and ``UNAVAILABLE`` RPC status, Kafka's bootstrap,
    no-broker and connection errors, and SQLAlchemy errors of a database that cannot be reached
    (a closed port, an unknown host, an SQLite file that cannot be opened).
    """
    if settings is None:
        from workers.settings import get_settings

        settings = get_settings()
    for e in _chain(err):
        if isinstance(e, ServiceUnavailable):
            return e
        for probe in (_temporal, _kafka, _database):
            try:
                found = probe(e, settings)
            except Exception:  # a probe never hides the error it was asked about
                found = None
            if found is not None:
                return found
    return None


def _temporal(e: BaseException, settings: Any) -> ServiceUnavailable | None:
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(e, RuntimeError) and "client connect" in str(e).lower():
        return ServiceUnavailable("Temporal", settings.temporal_address, _reason(e))
    if isinstance(e, RPCError) and e.status == RPCStatusCode.UNAVAILABLE:
        return ServiceUnavailable("Temporal", settings.temporal_address, _reason(e))
    return None


#: kafka-python's errors of a broker that cannot be reached (names vary between its versions).
_KAFKA_ERRORS = ("NoBrokersAvailable", "KafkaConnectionError", "KafkaTimeoutError", "BrokerNotAvailableError")


def _kafka(e: BaseException, settings: Any) -> ServiceUnavailable | None:
    try:
        from kafka import errors as kerr
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        return None
    kinds = tuple(k for k in (getattr(kerr, name, None) for name in _KAFKA_ERRORS) if isinstance(k, type))
    if not isinstance(e, kinds):
        return None
    bootstrap = str(settings.kafka_bootstrap)
    if not tcp_open(*_host_port(bootstrap, 9092)):
        return ServiceUnavailable("Kafka", bootstrap, "no connection")
    if isinstance(e, kerr.KafkaTimeoutError):
        return None  # the broker answers: some other timeout
    return ServiceUnavailable("Kafka", bootstrap, _reason(e))


def _database(e: BaseException, settings: Any) -> ServiceUnavailable | None:
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(e, OperationalError | InterfaceError):
        url = settings.resolved_database_url
        if _database_down(url, e):
            return ServiceUnavailable("database", safe_database_url(url), _reason(e))
    return None


def require_kafka(settings: Any) -> None:
    """Raise :class:`ServiceUnavailable` at once when no bootstrap server of Kafka accepts connections
    (rather than after the client's bootstrap timeout, or after a command has begun its work)."""
    servers = [s for s in str(settings.kafka_bootstrap).split(",") if s.strip()]
    if not any(tcp_open(*_host_port(s, 9092)) for s in servers):
        raise ServiceUnavailable("Kafka", str(settings.kafka_bootstrap), "no connection")


def refuse_unavailable(failure: ServiceUnavailable) -> None:
    """Print the one line and exit with 1."""
    typer.secho(failure.line, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


class GridcaseGroup(TyperGroup):
    """The root group: a command that meets a missing service ends with one line and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as err:
            if isinstance(err, typer.Exit | typer.Abort) or type(err).__module__.startswith(("click", "typer")):
                raise
            failure = service_failure(err)
            if failure is None:
                raise
            refuse_unavailable(failure)
            raise  # pragma: no cover - refuse_unavailable raises
