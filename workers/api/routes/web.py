"""The workspace: the built web front end (``workers/api/web/dist``) under ``/app/``.

Every path under ``/app/`` that is not a built file answers the front end's ``index.html``, so a
page's address (``/app/cases/C1...``) can be opened directly or reloaded. When the front end has not
been built (``make web``), ``/app/`` says so.

* Only files inside ``dist`` are served, never a hidden one (``..``, symbolic links out of ``dist``,
  NUL bytes and dot-files all answer 404 or the page).
* The build writes a gzip (``.gz``) and a Brotli (``.br``) copy of each text asset; the copy the
  browser accepts is sent with ``Content-Encoding``, so the transferred bytes are the compressed
  ones without compressing on every request.
* Hashed assets (``assets/*``) are cached for a year (their name changes with their content);
  ``index.html`` is revalidated each time, so a new build is picked up on the next load.
* Any query string is the front end's (the API's refusal of unknown query parameters does not
  apply here).
* Every file goes out with an explicit ``Content-Type`` and ``X-Content-Type-Options: nosniff``;
  the page with a Content-Security-Policy that allows this origin only: nothing is loaded from
  another site.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"

router = APIRouter(include_in_schema=False)

#: Content types of what a Vite build writes (not left to the platform's mime.types).
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}

#: Precompressed copies, in the server's order of preference.
ENCODINGS: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))

#: The page's policy: scripts, styles, fonts, data and the API from this origin only. Inline
#: ``style`` attributes (component libraries set them) are allowed; ``blob:`` workers and images are
#: the map's (MapLibre renders in a worker built from a blob).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

IMMUTABLE = "public, max-age=31536000, immutable"

_NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>gridcase</title>"
    "<p>The workspace has not been built: run <code>make web</code>.</p>"
)


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def accepted_encodings(header: str) -> set[str]:
    """The codings of an ``Accept-Encoding`` header that are not refused (``q=0``)."""
    found: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            found.add(name)
    return found


def resolve_asset(dist: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``dist``, or None: outside it, hidden, missing or malformed."""
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if not parts or any(p.startswith(".") for p in parts):
        return None
    try:
        target = (dist / Path(*parts)).resolve()
        if not target.is_relative_to(dist) or not target.is_file():
            return None
    except (OSError, ValueError):
        return None
    return target


def file_response(request: Request, target: Path, cache: str, extra: dict[str, str] | None = None) -> FileResponse:
    """``target`` (or its precompressed copy the client accepts) with its type and caching."""
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    headers.update(extra or {})
    accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
    for coding, suffix in ENCODINGS:
        copy = target.with_name(target.name + suffix)
        if coding in accepted and copy.is_file():
            headers["Content-Encoding"] = coding
            return FileResponse(copy, media_type=content_type(target), headers=headers)
    return FileResponse(target, media_type=content_type(target), headers=headers)


async def root(request: Request) -> Response:
    return RedirectResponse("/app/")


async def workspace(request: Request) -> Response:
    path: str = request.path_params.get("path", "")
    dist = WEB_DIST.resolve()
    if path:
        target = resolve_asset(dist, path)
        if target is not None and target.name != "index.html":
            return file_response(request, target, IMMUTABLE if path.startswith("assets/") else "no-cache")
        if path.startswith("assets/"):
            # a missing asset (an old chunk after a new build): 404, not the page in its place
            return Response(status_code=404, headers={"Cache-Control": "no-cache"})
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503)
    return file_response(request, index, "no-cache", {"Content-Security-Policy": CSP, "Referrer-Policy": "same-origin"})


# Plain routes, not API operations: outside the OpenAPI document, and a page's own query string
# (``/app/cases?state=handling``) is the front end's, not refused as unknown API parameters.
router.add_route("/", root, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/app", root, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/app/{path:path}", workspace, methods=["GET", "HEAD"], include_in_schema=False)
