"""--inspect with private registries (issue 22): docker credential helpers run as docker runs them,
$DOCKER_CONFIG named in messages, and the pods' imagePullSecrets where the user may read them.

The registry is the real one (Debian's docker-registry with htpasswd basic auth, as in
test_images_registry); the helper is a fake script on PATH; pull secrets and RBAC are the real
kube-apiserver's (../shared/kube-apiserver)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inproc import perf
from realk8s import RealK8s, available, loaded
from test_images_registry import PASSWORD, REGISTRY, USER, Server, images_in_process, inspect_cluster, registries  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(
    not os.path.exists(REGISTRY) and not os.environ.get("CI"), reason="docker-registry is not installed (./dev test installs it)"
)


def helper_bin(tmp_path: Path, name: str, host: str) -> Path:
    """A docker-credential-NAME that records its argv and stdin, and knows one registry, as real helpers answer."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        f"""#!/bin/sh
server=$(cat)
echo "$* $server" >> {tmp_path}/asked
if [ "$1" = get ] && [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{PASSWORD}"}}' "$server"
  exit 0
fi
echo "credentials not found in native keychain"
exit 1
"""
    )
    script.chmod(0o755)
    return bin_dir


def private_app(result_stdout: str, host: str) -> dict[str, Any]:
    return {i["image"]: i for i in json.loads(result_stdout)["images"]}[f"{host}/private/app:1"]


def test_cred_helpers_run_as_docker_runs_them(inspect_cluster: Any, tmp_path: Path) -> None:  # noqa: F811
    sim, _open_reg, private, _closed = inspect_cluster
    bin_dir = helper_bin(tmp_path, "fake", private.host)
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {}, "credHelpers": {private.host: "fake"}, "credsStore": "desktop"}))
    env = {"DOCKER_CONFIG": str(config), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = images_in_process(sim, "--inspect", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    app = private_app(result.stdout, private.host)
    assert app["suggestion"]["image"] == "gcr.io/distroless/static-debian13" and app["notes"] == []
    # `get` with the registry host on stdin, once: the open registries never asked for credentials
    assert (tmp_path / "asked").read_text() == f"get {private.host}\n"
    # credsStore applies to registries without a credHelpers entry: a missing helper is a note naming it and the file
    (config / "config.json").write_text(json.dumps({"credsStore": "desktop"}))
    result = images_in_process(sim, "--inspect", "-o", "json", env=env)
    where = f"{config}/config.json"
    assert (
        f"note: docker-credential-desktop is not on PATH (credsStore in {where}): {private.host} is read without its credentials"
        in result.stderr.splitlines()
    )
    assert private_app(result.stdout, private.host)["notes"] == [
        f"registry: unauthorized (401): no credentials for {private.host} in {where}"
    ]
    # A helper that answers with the wrong password: the 401 says where the credentials came from
    (bin_dir / "docker-credential-fake").write_text(f'#!/bin/sh\ncat >/dev/null\nprintf \'{{"Username":"{USER}","Secret":"wrong"}}\'\n')
    (config / "config.json").write_text(json.dumps({"credHelpers": {private.host: "fake"}}))
    result = images_in_process(sim, "--inspect", "-o", "json", env=env)
    assert private_app(result.stdout, private.host)["notes"] == [
        f"registry: unauthorized (401): the credentials for {private.host} from docker-credential-fake"
    ]


# -- imagePullSecrets, under the real API server's RBAC -------------------------------------------
def pull_secret(host: str, password: str) -> dict[str, Any]:
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    config = json.dumps({"auths": {host: {"auth": auth}}}).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "regcred", "namespace": "shop"},
        "data": {".dockerconfigjson": base64.b64encode(config).decode()},
    }


@pytest.fixture(scope="module")
def secret_cluster(registries: tuple[Server, Server], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RealK8s, Server]]:  # noqa: F811
    if not available():
        pytest.skip("needs the real kube-apiserver (../shared/kube-apiserver beside the checkout)")
    _open_reg, private = registries
    image = f"{private.host}/private/app:1"
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "status": {"nodeInfo": {"containerRuntimeVersion": "containerd://2.0.0"}},
        },
        pull_secret(private.host, PASSWORD),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "app", "namespace": "shop"},
            "spec": {"nodeName": "n1", "imagePullSecrets": [{"name": "regcred"}], "containers": [{"name": "app", "image": image}]},
        },
        # user1 may read pods in shop and nodes, not secrets
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "images-reader"},
            "rules": [
                {"apiGroups": ["", "apps", "batch"], "resources": ["nodes", "pods", "replicasets", "jobs"], "verbs": ["get", "list"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "images-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "images-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user1"}],
        },
    ]
    with loaded(tmp_path_factory.mktemp("realk8s-images-creds"), docs) as k8s:
        yield k8s, private


def test_pull_secrets_where_readable_and_a_note_where_forbidden(secret_cluster: tuple[RealK8s, Server], tmp_path: Path) -> None:
    k8s, private = secret_cluster
    env = {"DOCKER_CONFIG": str(tmp_path / "none")}  # no docker credentials at all: only the pull secret can help
    admin = perf(k8s.kubeconfig, "images", "--kubeconfig", str(k8s.kubeconfig), "-n", "shop", "--inspect", "-o", "json", env=env)
    assert admin.returncode == 0, admin.stderr
    app = private_app(admin.stdout, private.host)
    # no node lists it: its size came from the registry, which only answers with the secret's credentials
    assert (app["sizeBytes"], app["sizeFrom"]) == (1_000_000, "registry") and not any(n.startswith("registry:") for n in app["notes"])
    user = perf(k8s.kubeconfig, "images", "--kubeconfig", str(k8s.user_kubeconfig), "-n", "shop", "--inspect", "-o", "json", env=env)
    assert user.returncode == 0, user.stderr
    assert (
        "note: cannot read imagePullSecrets shop/regcred (forbidden): their registries are read with your docker credentials"
        in user.stderr.splitlines()
    )
    assert private_app(user.stdout, private.host)["notes"][-1:] == [
        f"registry: unauthorized (401): no credentials for {private.host} in {tmp_path / 'none'}/config.json"
    ]
