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
CUSTOM_KINDS = {
    "ScaledObject",
    "TriggerAuthentication",
    "SecretStore",
    "ExternalSecret",
    "ManagedCertificate",
    "FrontendConfig",
    "BackendConfig",
    "PodMonitoring",
}
OPERATOR_ENDPOINTS = ("/metrics", "/healthz", "/readyz")


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


def test_the_queue_depth_reaches_keda_through_managed_prometheus() -> None:
    docs = build("overlays/gke-database-queue")
    trigger = _by_kind(docs, "ScaledObject")["ve-worker"]["spec"]["triggers"][0]
    # The PromQL endpoint of Managed Prometheus, read with KEDA's own Workload Identity.
    assert trigger["metadata"]["serverAddress"] == (
        "https://monitoring.googleapis.com/v1/projects/PROJECT/location/global/prometheus"
    )
    assert trigger["authenticationRef"]["name"] in _by_kind(docs, "TriggerAuthentication")
    scrape = _by_kind(docs, "PodMonitoring")["ve-api"]["spec"]
    api = _by_kind(docs, "Deployment")["ve-api"]["spec"]["template"]
    assert scrape["selector"]["matchLabels"].items() <= api["metadata"]["labels"].items()
    ports = {port["name"] for port in api["spec"]["containers"][0]["ports"]}
    assert [(e["port"], e["path"]) for e in scrape["endpoints"]] == [("http", "/metrics")]
    assert scrape["endpoints"][0]["port"] in ports


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


def _routed(paths: list[dict[str, Any]], request_path: str) -> bool:
    """Kubernetes path matching: Exact is the whole path, Prefix whole path elements."""
    for rule in paths:
        path = rule["path"]
        if rule["pathType"] == "Exact" and request_path == path:
            return True
        under = request_path == path or request_path.startswith(path.rstrip("/") + "/")
        if rule["pathType"] == "Prefix" and under:
            return True
    return False


def _app_paths() -> set[str]:
    """Every path the app serves to clients: the OpenAPI operations, its pages and static mounts."""
    from video_enhancer.app import create_app

    app = create_app(Settings(database_url="sqlite://"))
    paths = set(app.openapi()["paths"])
    paths |= {route.path for route in app.routes if isinstance(getattr(route, "path", None), str)}
    return paths


def test_the_ingress_routes_every_app_path_and_no_operator_endpoint() -> None:
    docs = build("overlays/gke")
    ingress = _by_kind(docs, "Ingress")["ve-api"]
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert {p["backend"]["service"]["name"] for p in paths} == {"ve-api"}
    missing = sorted(path for path in _app_paths() if not _routed(paths, path))
    assert not missing, f"paths the load balancer would answer 404 for: {missing}"
    assert not [path for path in OPERATOR_ENDPOINTS if _routed(paths, path)]


def test_the_certificate_host_and_public_url_name_one_domain() -> None:
    docs = build("overlays/gke")
    ingress = _by_kind(docs, "Ingress")["ve-api"]
    annotations = ingress["metadata"]["annotations"]
    certificate = _by_kind(docs, "ManagedCertificate")[annotations["networking.gke.io/managed-certificates"]]
    public_url = _by_kind(docs, "ConfigMap")["video-enhancer-config"]["data"]["VE_PUBLIC_BASE_URL"]
    assert certificate["spec"]["domains"] == [ingress["spec"]["rules"][0]["host"]]
    assert public_url == f"https://{certificate['spec']['domains'][0]}"
    assert annotations["networking.gke.io/v1beta1.FrontendConfig"] in _by_kind(docs, "FrontendConfig")
    service = _by_kind(docs, "Service")["ve-api"]["metadata"]["annotations"]
    backend_name = yaml.safe_load(service["cloud.google.com/backend-config"])["default"]
    backend = _by_kind(docs, "BackendConfig")[backend_name]
    assert backend["spec"]["healthCheck"]["requestPath"] == "/healthz"
    api = _by_kind(docs, "Deployment")["ve-api"]["spec"]["template"]["spec"]["containers"][0]
    assert backend["spec"]["healthCheck"]["port"] == api["ports"][0]["containerPort"]


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
