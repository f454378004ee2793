"""``gridcase api`` and ``gridcase users ...``: serve the API and the workspace, manage API users and tokens."""

from __future__ import annotations

from collections.abc import Container
from types import FrameType

import typer

from events.base import Role
from workers.api.users import UnitChecker, UserStore
from workers.settings import Settings, get_settings

users_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


def registry_unit_checker(settings: Settings) -> UnitChecker:
    """``(role, unit_id) -> bool`` on the city registry: a grid worker's grid, a community's community,
    a street office's street, a department, a property company, a volunteer team, a supervisor's
    district (or ``city``)."""
    from workers.composition import build_registry

    registry = build_registry(settings)
    units: dict[Role, Container[str]] = {
        Role.GRID_WORKER: set(registry.grid_ids()),
        Role.COMMUNITY: registry.communities,
        Role.STREET: registry.streets,
        Role.DEPARTMENT: registry.departments,
        Role.PROPERTY: registry.property_companies,
        Role.VOLUNTEER: registry.volunteer_teams,
        Role.SUPERVISOR: {"city", *registry.districts},
    }

    def unit_exists(role: Role, unit_id: str) -> bool:
        known = units.get(role)
        return known is None or unit_id in known

    return unit_exists


def _store(settings: Settings, *, check_units: bool = False) -> UserStore:
    from workers.api.app import create_engine_for

    store = UserStore(create_engine_for(settings), unit_exists=registry_unit_checker(settings) if check_units else None)
    store.create_tables()
    return store


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        _fail(f"--role: one of {', '.join(r.value for r in Role if r != Role.SYSTEM)}")
        raise


@users_app.command("add")
def add(
    user_id: str = typer.Argument(..., help="The person's id, e.g. op-1, zhang.wei"),
    role: str = typer.Option(..., help="resident, dispatcher, grid_worker, community, street, department, supervisor"),
    unit: str | None = typer.Option(None, help="Grid, community, street, department, district id, or 'city'"),
    name: str | None = typer.Option(None, help="Display name (default: the id)"),
    token: bool = typer.Option(True, "--token/--no-token", help="Issue a first token now"),
    duty: list[str] = typer.Option(
        [],
        "--duty",
        help="A duty in the unit (repeatable): coordinator (assigns cases, 分派), reviewer (signs replies, 审核签发)",
    ),
) -> None:
    """Add an API user (and print a first token, shown only this once)."""
    from workers.api.users import UserError, check_duties

    store = _store(get_settings(), check_units=unit is not None)
    try:
        check_duties(_role(role), duty)  # before the user exists: nothing half-written
        user = store.add_user(user_id, name or user_id, _role(role), unit)
        duties = store.set_duties(user.user_id, duty) if duty else ()
        typer.echo(
            f"user {user.user_id}: {user.role.value}"
            + (f" of {user.unit_id}" if user.unit_id else "")
            + (f" ({', '.join(d.value for d in duties)})" if duties else "")
        )
        if token:
            secret, info = store.issue_token(user.user_id, label="first")
            typer.echo(f"token {info.token_id} (shown once, keep it safe):")
            typer.echo(secret)
    except UserError as err:
        _fail(f"invalid input: {err}")


@users_app.command("duties")
def duties_cmd(
    user_id: str = typer.Argument(..., help="The user"),
    duties: list[str] = typer.Argument(None, help="coordinator, reviewer; none: a plain member"),
) -> None:
    """Designate a user to exactly these duties of its unit (分派 coordinator, 审核签发 reviewer).

    A unit that designates nobody to a duty gives it to every member; once someone is designated,
    only the designated members hold it."""
    from workers.api.users import UserError

    try:
        held = _store(get_settings()).set_duties(user_id, duties or [])
    except UserError as err:
        _fail(f"invalid input: {err}")
        return
    typer.echo(f"user {user_id}: " + (", ".join(d.value for d in held) if held else "no duty (a plain member)"))


@users_app.command("token")
def token_cmd(
    user_id: str,
    label: str | None = typer.Option(None, help="What the token is for"),
) -> None:
    """Issue another token for a user (printed once; only its salted hash is stored)."""
    from workers.api.users import UserError

    try:
        secret, info = _store(get_settings()).issue_token(user_id, label)
    except UserError as err:
        _fail(f"invalid input: {err}")
        return
    typer.echo(f"token {info.token_id} for {user_id} (shown once, keep it safe):")
    typer.echo(secret)


@users_app.command("list")
def list_cmd() -> None:
    """Users and their tokens (ids, labels, dates; never the secrets)."""
    store = _store(get_settings())
    tokens = store.list_tokens()
    duties = store.all_duties()
    for u in store.list_users():
        state = f" DISABLED {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else ""
        held = f" [{', '.join(d.value for d in duties[u.user_id])}]" if u.user_id in duties else ""
        typer.echo(f"{u.user_id:<24} {u.role.value:<12} {u.unit_id or '-':<20} {u.name}{held}{state}")
        for t in tokens:
            if t.user_id == u.user_id:
                status = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
                created = f"{t.created_at:%Y-%m-%d %H:%M}"
                typer.echo(f"    token {t.token_id}  {t.label or '':<16} created {created}  {status}")


@users_app.command("revoke")
def revoke(
    token_id: str | None = typer.Argument(None, help="The token id shown by `users list`"),
    user: str | None = typer.Option(None, "--user", help="Disable this user and revoke all their tokens"),
) -> None:
    """Revoke one token, or disable a user with every token of theirs."""
    from workers.api.users import UserError

    if (token_id is None) == (user is None):
        _fail("invalid input: give a token id or --user USER (one of the two)")
    store = _store(get_settings())
    try:
        if user is not None:
            n = store.disable_user(user)
            typer.echo(f"user {user} disabled, {n} token(s) revoked")
        else:
            assert token_id is not None
            store.revoke_token(token_id)
            typer.echo(f"token {token_id} revoked")
    except UserError as err:
        _fail(f"invalid input: {err}")


@users_app.command("jwt")
def jwt_cmd(
    user_id: str,
    ttl: int = typer.Option(3600, help="Lifetime in seconds"),
) -> None:
    """Sign an HS256 JWT for a user (needs GRIDCASE_API_JWT_SECRET)."""
    from workers.api.auth import issue_jwt

    settings = get_settings()
    if not settings.api_jwt_secret:
        _fail("GRIDCASE_API_JWT_SECRET is not set: JWTs are off")
        return
    u = _store(settings).get_user(user_id)
    if u is None or u.disabled_at is not None:
        _fail(f"invalid input: user: no active user {user_id!r}")
        return
    typer.echo(issue_jwt(settings.api_jwt_secret, u.user_id, u.role, u.unit_id, name=u.name, ttl_seconds=ttl))


def _preflight(settings: Settings) -> None:
    """Reach the database and Temporal before serving: one line and exit 1 when one is down, rather
    than a startup traceback from the server."""
    import asyncio

    from workers.api.app import create_engine_for
    from workers.cli_errors import refuse_unavailable, service_failure
    from workers.composition import connect_temporal

    try:
        engine = create_engine_for(settings)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
        asyncio.run(connect_temporal(settings))
    except Exception as err:
        failure = service_failure(err, settings)
        if failure is None:
            raise
        refuse_unavailable(failure)


def serve(host: str | None = None, port: int | None = None) -> None:
    """Run the API and the workspace with uvicorn until SIGINT/SIGTERM."""
    import logging
    import signal

    import uvicorn

    from workers.api.app import create_app
    from workers.logs import setup_logging

    settings = get_settings()
    _preflight(settings)
    setup_logging()
    logging.getLogger("kafka").setLevel(logging.WARNING)
    h, p = host or settings.api_host, port or settings.api_port
    typer.echo(f"gridcase API on http://{h}:{p}  (workspace http://{h}:{p}/app/, OpenAPI http://{h}:{p}/openapi.json)")
    app = create_app(settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            app.state.stopping.set()  # live streams end, so a graceful stop does not wait for them
            super().handle_exit(sig, frame)

    def stopped(sig: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    # uvicorn re-raises the stop signal once it has shut down gracefully: exit 0 then, like the worker
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stopped)
    config = uvicorn.Config(app, host=h, port=p, log_level="info", timeout_graceful_shutdown=10)
    Server(config).run()
