"""The workspace: the built web front end (``workers/api/web/dist``) under ``/app/``.

Every path under ``/app/`` that is not a built file answers the front end's ``index.html``, so a
page's address (``/app/cases/C1...``) can be opened directly or reloaded. When the front end has not
been built (``make web``), ``/app/`` says so.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"

router = APIRouter(include_in_schema=False)

_NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>gridcase</title>"
    "<p>The workspace has not been built: run <code>make web</code>.</p>"
)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app")
async def app_root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app/{path:path}")
async def workspace(path: str) -> Response:
    dist = WEB_DIST.resolve()
    if path:
        target = (dist / path).resolve()
        if target.is_relative_to(dist) and target.is_file():
            # hashed assets never change; index.html always revalidates
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(target, headers={"Cache-Control": cache})
        if path.startswith("assets/"):
            return Response(status_code=404)
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})
