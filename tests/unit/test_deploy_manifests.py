"""The production manifests in deploy/, checked with real validators.

* Kubernetes: ``kubernetes-validate --strict`` (the Kubernetes OpenAPI schemas it bundles, offline).
* Compose: ``check-jsonschema`` against the Compose Specification schema vendored in
  deploy/compose/compose-spec.json (from compose-spec/compose-go v2.16.2, the reference loader).
* Prometheus: ``promtool check config``, ``promtool check rules`` and ``promtool test rules`` (Debian's
  prometheus package; .ci/run installs it). The Grafana dashboard's queries are parsed by promtool too.

Each validator is also shown a broken copy, so a validator that silently accepts everything fails here.
Beyond schemas, the checks pin what the deployment promises: RF 3 / min.insync.replicas 2 topics,
the namespace job, probes and limits, autoscaling on the task-queue backlog, disruption budgets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
COMPOSE_SCHEMA = DEPLOY / "compose" / "compose-spec.json"
PROM = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "gridcase.json"
BIN = Path(sys.executable).parent
K8S_VERSIONS = ("1.30.0", "1.37.0")  # oldest supported cluster we document, and the newest schemas bundled


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] == kind}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


# --------------------------------------------------------------------------------------------
# Kubernetes


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_validate_strictly(version: str) -> None:
    files = [p for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
    res = run(BIN / "kubernetes-validate", "--strict", "-k", version, *files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("passed") == len(k8s_docs())


def test_kubernetes_validator_rejects_a_broken_manifest(tmp_path: Path) -> None:
    broken = (K8S / "worker.yaml").read_text().replace("containerPort: 9464", "containerPort: metrics-port", 1)
    (tmp_path / "worker.yaml").write_text(broken)
    res = run(BIN / "kubernetes-validate", "--strict", tmp_path / "worker.yaml")
    assert res.returncode != 0 and "containerPort" in res.stdout + res.stderr


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_kustomize_renders_what_validates(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the kustomization is checked by test_kustomization_lists_every_manifest")
    rendered = run(kubectl, "kustomize", K8S)
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "rendered.yaml").write_text(rendered.stdout)
    assert len([d for d in yaml.safe_load_all(rendered.stdout) if d]) == len(k8s_docs())
    res = run(BIN / "kubernetes-validate", "--strict", tmp_path / "rendered.yaml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_deployment_has_probes_limits_and_a_disruption_budget() -> None:
    deployments = by_kind("Deployment")
    assert set(deployments) == {"gridcase-worker", "gridcase-projector", "gridcase-api"}
    budgets = by_kind("PodDisruptionBudget")
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]
        assert pod["metadata"]["labels"].items() >= dep["spec"]["selector"]["matchLabels"].items(), name
        (container,) = pod["spec"]["containers"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert probe in container, f"{name}: {probe} missing"
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True, name
        assert container["args"][0] in {"worker", "projector", "api"}, name
        assert any(
            b["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"] for b in budgets.values()
        ), f"{name}: no PodDisruptionBudget"
    worker = deployments["gridcase-worker"]["spec"]["template"]["spec"]
    probes = worker["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # the API is ready only with Temporal, Kafka and the read model reachable; alive while it serves
    api = deployments["gridcase-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # the pod outlives the worker's own graceful shutdown (20 s in workers/composition.py)
    assert worker["terminationGracePeriodSeconds"] > 20


def test_workers_scale_on_the_task_queue_backlog() -> None:
    (hpa,) = by_kind("HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gridcase-worker"}
    external = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert external and external[0]["metric"]["selector"]["matchLabels"] == {"taskqueue": "gridcase-cases"}
    config = by_kind("ConfigMap")
    assert config["gridcase-config"]["data"]["GRIDCASE_TASK_QUEUE"] == "gridcase-cases"
    rules = yaml.safe_load(config["gridcase-prometheus-adapter-rules"]["data"]["config.yaml"])
    assert rules["externalRules"][0]["name"]["as"] == external[0]["metric"]["name"]


def test_jobs_register_temporal_and_create_replicated_topics() -> None:
    jobs = {name: job["spec"]["template"]["spec"]["containers"][0]["args"] for name, job in by_kind("Job").items()}
    assert jobs["gridcase-temporal-setup"][:2] == ["temporal", "setup"]
    assert jobs["gridcase-kafka-topics"] == ["topics", "ensure", "--replication-factor", "3"]
    assert jobs["gridcase-readmodel-migrate"] == ["readmodel", "migrate"]
    data = by_kind("ConfigMap")["gridcase-config"]["data"]
    assert data["GRIDCASE_KAFKA_REPLICATION_FACTOR"] == "3" and data["GRIDCASE_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert len(data["GRIDCASE_KAFKA_BOOTSTRAP"].split(",")) == 3


def test_topic_specs_under_the_deployment_settings_have_rf3_and_min_isr2(monkeypatch: pytest.MonkeyPatch) -> None:
    from events.topics import topic_specs
    from workers.settings import Settings

    data = by_kind("ConfigMap")["gridcase-config"]["data"]
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    specs = topic_specs(Settings(), replication_factor=3)
    assert {s.replication_factor for s in specs} == {3}
    assert {s.configs["min.insync.replicas"] for s in specs} == {"2"}


# --------------------------------------------------------------------------------------------
# Compose


def test_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    res = run(BIN / "check-jsonschema", "--schemafile", COMPOSE_SCHEMA, COMPOSE)
    assert res.returncode == 0, res.stdout + res.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text().replace("    stop_grace_period: 30s\n", "    stop_grace_period: 30s\n    replicas: 2\n", 1)
    )
    res = run(BIN / "check-jsonschema", "--schemafile", COMPOSE_SCHEMA, broken)
    assert res.returncode != 0 and "replicas" in res.stdout
    # the Temporal services' start order is a depends_on condition: a misspelt one is refused
    broken.write_text(
        COMPOSE.read_text().replace(
            "  temporal-history:\n    condition: service_healthy",
            "  temporal-history:\n    condition: service_ready",
            1,
        )
    )
    res = run(BIN / "check-jsonschema", "--schemafile", COMPOSE_SCHEMA, broken)
    assert res.returncode != 0 and "service_ready" in res.stdout


def test_compose_runs_the_whole_system_with_its_setup_jobs() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {
        "temporal-history",
        "temporal-matching",
        "temporal-frontend",
        "temporal-worker",
        "temporal-db",
        "temporal-schema",
        "temporal-setup",
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "kafka-topics",
        "readmodel-db",
        "readmodel-migrate",
        "worker",
        "projector",
        "api",
        "prometheus",
        "grafana",
    } <= set(services)
    for service in ("history", "matching", "frontend", "worker"):  # one container per Temporal service
        env = services[f"temporal-{service}"]["environment"]
        assert env["TEMPORAL_SERVICES"] == service
        assert env["TEMPORAL_SERVER_CONFIG_FILE_PATH"] in {
            v.split(":")[1] for v in services[f"temporal-{service}"]["volumes"]
        }
        assert services[f"temporal-{service}"]["healthcheck"]["test"]
    server = yaml.safe_load((COMPOSE.parent / "temporal.yaml").read_text())
    assert {s["sql"]["pluginName"] for s in server["persistence"]["datastores"].values()} == {"postgres12"}
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        env = services[name]["environment"]
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2" and env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
    assert len({services[n]["environment"]["KAFKA_NODE_ID"] for n in ("kafka-1", "kafka-2", "kafka-3")}) == 3
    assert services["kafka-topics"]["command"] == ["topics", "ensure", "--replication-factor", "3"]
    assert services["kafka-topics"]["environment"]["GRIDCASE_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert services["temporal-setup"]["command"][:2] == ["temporal", "setup"]
    for name in ("worker", "projector", "api"):
        assert services[name]["deploy"]["replicas"] >= 2, name
        assert services[name]["deploy"]["resources"]["limits"], name
        deps = services[name]["depends_on"]
        assert {d: deps[d]["condition"] for d in deps} == {
            "temporal-setup": "service_completed_successfully",
            "kafka-topics": "service_completed_successfully",
            "readmodel-migrate": "service_completed_successfully",
        }, name
    for name, service in services.items():
        deps = service.get("depends_on", [])
        assert set(deps) <= set(services), f"{name} depends on an unknown service"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in spec["volumes"], f"{name}: volume {source} is not declared"


def test_dockerfile_installs_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in dockerfile, f"the image lacks package {package}"
        assert f"!{package}/" in (DEPLOY / "Dockerfile.dockerignore").read_text(), package
    assert 'ENTRYPOINT ["gridcase"]' in dockerfile and "USER 10001" in dockerfile


# --------------------------------------------------------------------------------------------
# Prometheus and Grafana


def test_prometheus_configuration_and_alert_rules_check_and_pass_their_unit_tests(tmp_path: Path) -> None:
    tool = promtool()
    for args in (
        ("check", "rules", PROM / "alerts.yml"),
        ("check", "config", PROM / "prometheus.yml"),
        ("test", "rules", PROM / "alerts.test.yml"),
    ):
        res = run(tool, *args)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "SUCCESS" in res.stdout + res.stderr
    # Debian's promtool is built without Kubernetes service discovery: check everything else of the
    # Kubernetes scrape configuration (relabelling included) with the discovery swapped for static targets.
    k8s = yaml.safe_load((PROM / "prometheus-k8s.yml").read_text())
    for job in k8s["scrape_configs"]:
        sd = job.pop("kubernetes_sd_configs")
        assert sd == [{"role": "pod", "namespaces": {"names": ["gridcase"]}}]
        job["static_configs"] = [{"targets": ["pod:9464"]}]
    (tmp_path / "prometheus-k8s.yml").write_text(yaml.safe_dump(k8s))
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    res = run(tool, "check", "config", tmp_path / "prometheus-k8s.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    tool = promtool()
    (tmp_path / "alerts.yml").write_text(
        (PROM / "alerts.yml")
        .read_text()
        .replace("max(gridcase_projector_lag_seconds) > 300", "max(gridcase_projector_lag_seconds > 300", 1)
    )
    assert run(tool, "check", "rules", tmp_path / "alerts.yml").returncode != 0


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] if p["type"] != "row" for t in p["targets"]]


def test_dashboard_panels_are_well_formed() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "gridcase-overview" and dash["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] != "row":
            assert p["targets"] and p["datasource"]["uid"] == "${datasource}", p["title"]
    titles = " | ".join(p["title"] for p in dash["panels"])
    for wanted in (
        "Open cases by state",
        "SLA breaches",
        "Escalations",
        "publish latency",
        "Projection lag",
        "schedule-to-start",
    ):
        assert wanted in titles, wanted


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    tool = promtool()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
                    for i, (_title, expr) in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    res = run(tool, "check", "rules", tmp_path / "dashboard.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def referenced_metrics() -> set[str]:
    text = DASHBOARD.read_text() + (PROM / "alerts.yml").read_text()
    names = set(re.findall(r"\b((?:gridcase|temporal)_[a-z_]+)\b", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_every_gridcase_metric_in_dashboard_and_alerts_is_defined_in_the_code() -> None:
    sources = "".join(p.read_text() for d in ("activities", "workers", "readmodel") for p in (ROOT / d).rglob("*.py"))
    for name in sorted(n for n in referenced_metrics() if n.startswith("gridcase_")):
        base = name.removesuffix("_total")
        assert f'"{name}"' in sources or f'"{base}"' in sources, f"{name} is not defined by gridcase"
