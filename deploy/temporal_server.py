"""The Temporal server (not the dev server), built from the Go module proxy and cached by version.

``go install go.temporal.io/server/cmd/server@<version>`` and ``.../cmd/tools/sql@<version>`` (the
schema tool) build the two binaries the cluster profile runs. The module needs a newer Go than the
machine's, so the build runs with ``GOTOOLCHAIN`` set (the go command fetches that toolchain from the
proxy like any module). A cold build takes several minutes on two cores; the binaries are then reused
from ``<cache>/<version>/bin`` until the version changes. A lock file serialises concurrent builders
(CI starts a build in the background and ``stack up --profile cluster`` waits for it).

Standard library only, so CI can start the build before the virtualenv exists::

    python3 deploy/temporal_server.py build [--version v1.32.2] [--cache DIR] [--toolchain go1.27.3]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MODULE = "go.temporal.io/server"
SERVER = "temporal-server"
SQL_TOOL = "temporal-sql-tool"
_PACKAGES = {SERVER: "cmd/server", SQL_TOOL: "cmd/tools/sql"}
_MARKER = ".build-complete"


class BuildError(RuntimeError):
    """The server could not be built; the message says why and where the log is."""


def version_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir.expanduser().resolve() / version


def binaries(cache_dir: Path, version: str) -> dict[str, Path] | None:
    """The cached binaries of ``version`` (server and schema tool), or None when not built yet."""
    root = version_dir(cache_dir, version)
    found = {name: root / "bin" / name for name in _PACKAGES}
    if (root / _MARKER).is_file() and all(p.is_file() and os.access(p, os.X_OK) for p in found.values()):
        return found
    return None


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "build.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _go() -> str:
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )
    if go is None:
        raise BuildError("Go is not installed; the Temporal server is built with `go install` (any Go 1.21+ will do)")
    return go


def ensure_built(cache_dir: Path, version: str, toolchain: str, *, log: Path | None = None) -> dict[str, Path]:
    """Build ``version`` unless it is cached; returns the paths of the server and the schema tool.

    Raises:
        BuildError: Go is missing, or ``go install`` failed (its output is in ``log``).
    """
    root = version_dir(cache_dir, version)
    cached = binaries(cache_dir, version)
    if cached is not None:
        return cached
    with _build_lock(root):
        cached = binaries(cache_dir, version)  # another process built it while this one waited
        if cached is not None:
            return cached
        log = log or root / "build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        tmp = root / f"bin.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        env = {
            **os.environ,
            "GOTOOLCHAIN": toolchain,
            "GOBIN": str(tmp),
            "CGO_ENABLED": "0",
            "GOFLAGS": "-trimpath",
        }
        argv = [_go(), "install", *(f"{MODULE}/{pkg}@{version}" for pkg in _PACKAGES.values())]
        started = time.monotonic()
        with log.open("a") as fh:
            fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)} (GOTOOLCHAIN={toolchain})\n")
            fh.flush()
            rc = subprocess.run(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
            fh.write(f"=== exit {rc} after {time.monotonic() - started:.0f} s\n")
        built = {"server": tmp / "server", "sql": tmp / "sql"}
        if rc != 0 or not all(p.is_file() for p in built.values()):
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildError(f"building Temporal server {version} failed (exit {rc}); see {log}")
        built["server"].rename(tmp / SERVER)
        built["sql"].rename(tmp / SQL_TOOL)
        shutil.rmtree(root / "bin", ignore_errors=True)
        tmp.rename(root / "bin")
        (root / _MARKER).write_text(f"{version} built in {time.monotonic() - started:.0f} s\n")
    result = binaries(cache_dir, version)
    assert result is not None
    return result


def main(argv: list[str] | None = None) -> int:
    if __package__ in (None, ""):  # run as a script: make `deploy` importable (standard library only below)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from deploy.config import ClusterConfig

    defaults = ClusterConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the server and the schema tool unless cached")
    build.add_argument("--version", default=defaults.temporal_version)
    build.add_argument("--cache", type=Path, default=defaults.temporal_cache_dir)
    build.add_argument("--toolchain", default=defaults.go_toolchain)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        paths = ensure_built(args.cache, args.version, args.toolchain)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Temporal server {args.version}: {paths[SERVER]} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
