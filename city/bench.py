"""Timings of the city registry on the seed city: ``python -m city.bench [--url URL] [--seed N]``.

Measures generating the seed, reading and validating its files, writing them to SQL, loading the
stored city into memory, a cached ``open_registry`` call, and lookups by point, by address and by
grid id. Without ``--url`` a temporary SQLite file is used; a database given with ``--url`` must not
hold a city yet (the benchmark would replace it), unless ``--replace`` is given.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from city.files import read_city, write_city
from city.registry import clear_cache, open_registry
from city.seed import DEFAULT_SEED, generate_city
from city.store import city_version, engine_for, save_city

T = TypeVar("T")


def _timed(label: str, fn: Callable[[], T], results: dict[str, float]) -> T:
    started = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - started
    return value


def run(url: str | None = None, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Seconds per step (lookups: microseconds per call, keys ending in ``_us``)."""
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        data = _timed("generate", lambda: generate_city(seed), results)
        _timed("write_files", lambda: write_city(data, Path(tmp) / "city"), results)
        files = _timed("read_and_validate", lambda: read_city(Path(tmp) / "city"), results)
        _timed("save_to_sql", lambda: save_city(engine_for(url), files, "bench"), results)
        clear_cache()
        reg = _timed("load_into_memory", lambda: open_registry(url), results)
        _timed("cached_open", lambda: open_registry(url), results)
        rng = random.Random(1)
        grids = [rng.choice(reg.grid_ids()) for _ in range(2000)]
        points = [reg.random_point(g, rng) for g in grids]
        addresses = [reg.random_address(g, rng) for g in grids[:500]]
        per: list[float] = []
        for lat, lon in points:
            started = time.perf_counter()
            reg.locate(lat=lat, lon=lon)
            per.append(time.perf_counter() - started)
        results["locate_point_us"] = statistics.median(per) * 1e6
        per = []
        for address in addresses:
            started = time.perf_counter()
            reg.locate(address=address)
            per.append(time.perf_counter() - started)
        results["locate_address_us"] = statistics.median(per) * 1e6
        per = []
        for g in grids:
            started = time.perf_counter()
            reg.locate(grid_id=g)
            per.append(time.perf_counter() - started)
        results["locate_grid_id_us"] = statistics.median(per) * 1e6
        clear_cache()
        engine_for(url).dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--replace", action="store_true", help="Allow replacing the city of --url")
    args = parser.parse_args()
    if args.url and not args.replace and city_version(engine_for(args.url)) is not None:
        parser.error(f"{args.url} already holds a city; the benchmark would replace it (use --replace)")
    for key, value in run(args.url, args.seed).items():
        unit = "µs" if key.endswith("_us") else "s"
        print(f"{key.removesuffix('_us'):<20} {value:10.3f} {unit}")


if __name__ == "__main__":
    main()
