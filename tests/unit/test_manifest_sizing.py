"""The manifests' memory requests and limits are the ones derived from measured resident memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.cluster import MEASURED_RSS_MIB, REQUEST_HEADROOM, memory_limit_mib, memory_request_mib

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("worker", "projector", "api")


def _k8s_resources(kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{kind}.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == f"gridcase-{kind}"
    ] or [deployment["spec"]["template"]["spec"]["containers"][0]]
    return container["resources"]


def _mib(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024, "m": 1, "g": 1024}
    for suffix in ("Mi", "Gi", "m", "g"):
        if quantity.endswith(suffix):
            return int(float(quantity.removesuffix(suffix)) * units[suffix])
    raise ValueError(f"memory quantity {quantity!r}: expected Mi, Gi, m or g")


@pytest.mark.parametrize("kind", KINDS)
def test_k8s_requests_and_limits_come_from_the_measured_rss(kind: str) -> None:
    resources = _k8s_resources(kind)
    assert _mib(resources["requests"]["memory"]) == memory_request_mib(kind)
    assert _mib(resources["limits"]["memory"]) == memory_limit_mib(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_compose_limits_are_the_k8s_limits(kind: str) -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    service = compose["services"][kind] if kind in compose["services"] else compose["services"][f"{kind}-1"]
    assert _mib(service["deploy"]["resources"]["limits"]["memory"]) == memory_limit_mib(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_request_covers_the_measurement_with_headroom(kind: str) -> None:
    rss, source = MEASURED_RSS_MIB[kind]
    assert source, "every figure names where it was measured"
    request = memory_request_mib(kind)
    assert rss * REQUEST_HEADROOM <= request < rss * REQUEST_HEADROOM + 32
    assert request % 32 == 0
