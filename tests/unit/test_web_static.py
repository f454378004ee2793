"""Serving the built workspace (``workers/api/routes/web.py``): files, fallback, encodings, safety."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from workers.api.routes import web


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>ws</title><div id=app></div>", encoding="utf-8")
    js = "export const x = 1;\n" * 200
    (d / "assets" / "index-abc.js").write_text(js, encoding="utf-8")
    (d / "assets" / "index-abc.js.gz").write_bytes(gzip.compress(js.encode()))
    (d / "assets" / "index-abc.css").write_text("body{margin:0}", encoding="utf-8")
    (d / "assets" / "font.woff2").write_bytes(b"wOF2")
    (d / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    (d / ".vite").mkdir()
    (d / ".vite" / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    (d / "assets" / "link.js").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setattr(web, "WEB_DIST", d)
    return d


@pytest.fixture
def client() -> TestClient:
    from fastapi import Depends

    from workers.api.deps import no_unknown_query

    app = FastAPI(dependencies=[Depends(no_unknown_query)])  # as the API has it
    app.include_router(web.router)
    return TestClient(app, follow_redirects=False)


def test_root_and_app_redirect_to_the_workspace(client: TestClient, dist: Path) -> None:
    for path in ("/", "/app", "/?utm=x"):
        r = client.get(path)
        assert r.status_code == 307 and r.headers["location"] == "/app/"


@pytest.mark.parametrize(
    "path",
    ["/app/", "/app/queue", "/app/cases/C1.2-x", "/app/login?next=/map&expired=1", "/app/index.html", "/app/cases?x=1"],
)
def test_pages_answer_the_index_with_its_policy(client: TestClient, dist: Path, path: str) -> None:
    r = client.get(path, headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and "<div id=app>" in r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/app/assets/index-abc.css", "text/css; charset=utf-8"),
        ("/app/assets/font.woff2", "font/woff2"),
        ("/app/favicon.svg", "image/svg+xml"),
    ],
)
def test_files_have_their_content_type(client: TestClient, dist: Path, path: str, ctype: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == ctype
    assert "content-encoding" not in r.headers  # no compressed copy of these
    cache = "public, max-age=31536000, immutable" if "/assets/" in path else "no-cache"
    assert r.headers["cache-control"] == cache


@pytest.mark.parametrize(
    ("accept", "encoded"),
    [
        ("gzip, deflate, br", "gzip"),  # no .br copy here: the gzip one
        ("gzip;q=0.5", "gzip"),
        ("br", None),
        ("gzip;q=0", None),
        ("", None),
        ("identity", None),
    ],
)
def test_scripts_go_out_precompressed_when_accepted(
    client: TestClient, dist: Path, accept: str, encoded: str | None
) -> None:
    r = client.get("/app/assets/index-abc.js", headers={"accept-encoding": accept})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers.get("content-encoding") == encoded
    assert r.headers["vary"] == "Accept-Encoding"
    size = int(r.headers["content-length"])
    full = (dist / "assets" / "index-abc.js").stat().st_size
    assert (size < full / 5) if encoded else (size == full)
    assert r.text.startswith("export const x")  # the client decodes the gzip copy


def test_brotli_is_preferred_when_both_exist(client: TestClient, dist: Path) -> None:
    (dist / "assets" / "index-abc.js.br").write_bytes(b"brotli bytes")
    r = client.get("/app/assets/index-abc.js", headers={"accept-encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "br" and r.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path",
    [
        "/app/assets/missing-123.js",
        "/app/assets/../../secret.txt",
        "/app/assets/%2e%2e/%2e%2e/secret.txt",
        "/app/assets/link.js",  # a symbolic link out of dist
        "/app/assets/.hidden.js",
    ],
)
def test_assets_outside_dist_or_missing_are_404(client: TestClient, dist: Path, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and "outside" not in r.text


@pytest.mark.parametrize("path", ["/app/.vite/manifest.json", "/app/..%2fsecret.txt", "/app/%00index.html"])
def test_hidden_or_malformed_paths_get_the_page_not_the_file(client: TestClient, dist: Path, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and "<div id=app>" in r.text and "outside" not in r.text


def test_not_built_says_how_to_build(client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "WEB_DIST", tmp_path / "nowhere")
    r = client.get("/app/queue")
    assert r.status_code == 503 and "make web" in r.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", {"gzip", "deflate", "br"}),
        ("GZIP;q=0.8, br;q=0", {"gzip"}),
        ("br;q=bad, gzip", {"gzip"}),
        (" , ", set()),
        ("*", {"*"}),
    ],
)
def test_accepted_encodings(header: str, expected: set[str]) -> None:
    assert web.accepted_encodings(header) == expected


def test_head_requests_are_answered(client: TestClient, dist: Path) -> None:
    assert client.head("/app/queue").status_code == 200
    assert client.head("/app/assets/index-abc.js").headers["content-type"].startswith("text/javascript")


def test_the_workspace_is_not_part_of_the_api_document() -> None:
    from workers.api.app import create_app
    from workers.settings import Settings

    paths = create_app(Settings()).openapi()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/app")]
