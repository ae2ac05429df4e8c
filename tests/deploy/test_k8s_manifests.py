"""The Kubernetes manifests build, validate against a pinned Kubernetes, and name real settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from video_enhancer.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"  # GKE's regular channel; native sidecars need 1.29 or later
OVERLAYS = ["base", "overlays/gke", "overlays/gke-database-queue"]
# Custom resources of operators the guide installs; checked by hand below.
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "SecretStore", "ExternalSecret"}


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed and could not be (make test installs it with apt-get)")
    return found


def build(path: str) -> list[dict[str, Any]]:
    output = subprocess.run(
        [_kubectl(), "kustomize", str(K8S / path)], capture_output=True, text=True, check=False
    )
    assert output.returncode == 0, output.stderr
    return [doc for doc in yaml.safe_load_all(output.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return build(request.param)


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def test_every_builtin_resource_validates_strictly(manifests: list[dict[str, Any]]) -> None:
    for doc in manifests:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    broken = build("base")[0] | {"spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_custom_resources_have_their_required_fields() -> None:
    docs = build("overlays/gke")
    scaled = _by_kind(docs, "ScaledObject")["ve-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "ve-worker"
    assert scaled["spec"]["minReplicaCount"] == 0
    subscriptions = [t["metadata"]["subscriptionName"] for t in scaled["spec"]["triggers"]]
    assert [s.rsplit("/", 1)[1] for s in subscriptions] == [
        f"video-jobs-subscription-stream-diffvsr-{tier}" for tier in ("pro", "creator", "free")
    ]
    assert all(
        t["type"] == "gcp-pubsub" and t["authenticationRef"]["name"] == "keda-gcp"
        for t in scaled["spec"]["triggers"]
    )
    assert _by_kind(docs, "TriggerAuthentication")["keda-gcp"]["spec"]["podIdentity"]["provider"] == "gcp"
    external = _by_kind(docs, "ExternalSecret")["video-enhancer-secrets"]
    assert {d["secretKey"] for d in external["spec"]["data"]} == {
        "VE_DATABASE_URL",
        "VE_JWT_SECRET",
        "VE_URL_SIGNING_SECRET",
    }
    database = build("overlays/gke-database-queue")
    trigger = _by_kind(database, "ScaledObject")["ve-worker"]["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and "ve_queue_depth" in trigger["metadata"]["query"]
    assert "ve-outbox-relay" not in _by_kind(database, "Deployment")


def test_probes_grace_periods_and_identities(manifests: list[dict[str, Any]]) -> None:
    deployments = _by_kind(manifests, "Deployment")
    api = deployments["ve-api"]["spec"]["template"]["spec"]
    assert api["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    worker = deployments["ve-worker"]["spec"]["template"]["spec"]
    assert worker["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # A worker stopped by scale-in finishes its segment first: minutes, not the default 30 s.
    assert worker["terminationGracePeriodSeconds"] >= 300
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert container["resources"]["requests"], name
    assert {"ve-api", "ve-worker", "ve-webhooks"} <= set(_by_kind(manifests, "PodDisruptionBudget"))
    assert "ve-api" in _by_kind(manifests, "HorizontalPodAutoscaler")
    assert "ve-migrate" in _by_kind(manifests, "Job")


def test_gke_uses_workload_identity_gpus_and_the_sql_proxy() -> None:
    docs = build("overlays/gke")
    for account in _by_kind(docs, "ServiceAccount").values():
        assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
            ".iam.gserviceaccount.com"
        )
    deployments = _by_kind(docs, "Deployment")
    worker = deployments["ve-worker"]
    assert "replicas" not in worker["spec"], "KEDA owns the worker count"
    assert worker["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    pods = [d["spec"]["template"]["spec"] for d in deployments.values()]
    pods.append(_by_kind(docs, "Job")["ve-migrate"]["spec"]["template"]["spec"])
    for pod in pods:
        proxy = pod["initContainers"][0]
        assert proxy["name"] == "cloud-sql-proxy" and proxy["restartPolicy"] == "Always"
    assert not any("GOOGLE_APPLICATION_CREDENTIALS" in yaml.safe_dump(doc) for doc in docs), "no key files"


def test_workers_take_no_ingress_but_metrics() -> None:
    policies = _by_kind(build("base"), "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    worker = policies["ve-worker-metrics-only"]["spec"]["ingress"]
    assert [port["port"] for rule in worker for port in rule["ports"]] == [9100]


def _setting_names() -> set[str]:
    return {f"VE_{name.upper()}" for name in Settings.model_fields}


def test_every_setting_the_deployment_files_use_exists() -> None:
    used: dict[str, set[str]] = {}
    files = [*K8S.rglob("*.yaml"), *(ROOT / "deploy").glob("Dockerfile.*"), ROOT / "deploy" / "gcp.md"]
    for path in files:
        for name in re.findall(r"\bVE_[A-Z0-9_]+\b", path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert "VE_DATABASE_URL" in used
    unknown = {name: sorted(paths) for name, paths in used.items() if name not in _setting_names()}
    assert not unknown, f"settings that do not exist: {unknown}"
