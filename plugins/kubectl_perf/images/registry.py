"""Read an image's config and layer sizes from its registry over the OCI
distribution API (`--inspect`): anonymous bearer tokens, or the credentials in
~/.docker/config.json. Every failure is a one-line note for that image."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..imageref import ImageRef
from .compute import Inspection

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_DOCUMENT = 4 << 20  # manifests and configs are kilobytes; refuse anything absurd
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    pass


Creds = tuple[str, str]  # (user, password)
HUB_SERVER = "https://index.docker.io/v1/"  # the key docker and its credential helpers use for Docker Hub


def _host(key: str) -> str:
    """A docker config key (`https://index.docker.io/v1/`, `registry.example.com:5000`) as imageref names registries."""
    host = urllib.parse.urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def parse_auths(auths: object) -> dict[str, Creds]:
    """host -> (user, password) from an `auths` map (a docker config's, or a .dockerconfigjson pull secret's)."""
    out: dict[str, Creds] = {}
    if not isinstance(auths, dict):
        return out
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        if user:
            out[_host(str(key))] = (str(user), str(password or ""))
    return out


def pull_secret_auths(secret: Mapping[str, Any]) -> dict[str, Creds]:
    """host -> (user, password) from a pull Secret: kubernetes.io/dockerconfigjson ({"auths": ...})
    or the older kubernetes.io/dockercfg (the auths map itself), base64 in `data`."""
    data = secret.get("data") or {}
    for key, nested in ((".dockerconfigjson", True), (".dockercfg", False)):
        if isinstance(data, dict) and data.get(key):
            try:
                doc = json.loads(base64.b64decode(data[key]))
            except (ValueError, TypeError):
                return {}
            return parse_auths(doc.get("auths") if nested and isinstance(doc, dict) else doc)
    return {}


def docker_config_path() -> tuple[str, str]:
    """(the config file, how messages name it): $DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        path = os.path.join(directory, "config.json")
        return path, path
    return os.path.join(os.path.expanduser("~/.docker"), "config.json"), "~/.docker/config.json"


def docker_credentials(path: str | None = None) -> dict[str, Creds]:
    """host -> (user, password) from a docker config file's `auths` ($DOCKER_CONFIG or ~/.docker)."""
    return parse_auths(_read_config(path or docker_config_path()[0]).get("auths"))


def _read_config(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


class Credentials:
    """Where --inspect finds a registry's credentials, as docker does: the registry's entry in
    `credHelpers`, else `credsStore`, runs `docker-credential-<helper> get` (stdin the server, JSON
    {Username, Secret} out); else `auths`. Helpers run only when a registry asks (a 401), once per
    registry. Problems are notes (`notes`), never errors."""

    def __init__(
        self,
        auths: Mapping[str, Creds] | None = None,
        helpers: Mapping[str, str] | None = None,
        store: str = "",
        where: str = "~/.docker/config.json",
        timeout: float = 10.0,
    ) -> None:
        self.auths = dict(auths or {})
        self.helpers = dict(helpers or {})
        self.store = store
        self.where = where
        self.timeout = timeout
        self.notes: list[str] = []
        self._found: dict[str, tuple[Creds | None, str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_docker_config(cls, timeout: float = 10.0) -> Credentials:
        path, where = docker_config_path()
        doc = _read_config(path)
        helpers = doc.get("credHelpers")
        store = doc.get("credsStore")
        return cls(
            parse_auths(doc.get("auths")),
            {_host(str(k)): str(v) for k, v in helpers.items() if v} if isinstance(helpers, dict) else {},
            store if isinstance(store, str) else "",
            where,
            timeout,
        )

    def lookup(self, host: str) -> tuple[Creds | None, str]:
        """(credentials or None, where they came from for messages: "in ~/.docker/config.json", "from docker-credential-ecr-login")."""
        with self._lock:  # registries are read from several threads; a helper runs once per host
            if host not in self._found:
                self._found[host] = self._lookup(host)
            return self._found[host]

    def _lookup(self, host: str) -> tuple[Creds | None, str]:
        helper = self.helpers.get(host) or self.store
        if helper:
            found = self._helper(helper, host)
            if found is not None:
                return found, f"from docker-credential-{helper}"
        return self.auths.get(host), f"in {self.where}"

    def _helper(self, helper: str, host: str) -> Creds | None:
        program = f"docker-credential-{helper}"
        how = "credHelpers" if host in self.helpers else "credsStore"
        try:
            done = subprocess.run(
                [program, "get"],
                input=(HUB_SERVER if host == "docker.io" else host).encode(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            self.notes.append(f"{program} is not on PATH ({how} in {self.where}): {host} is read without its credentials")
            return None
        except (OSError, subprocess.TimeoutExpired) as err:
            self.notes.append(f"{program} get failed for {host}: {err}")
            return None
        out = done.stdout.decode(errors="replace").strip()
        if done.returncode != 0:
            if "credentials not found" not in out.lower():  # the helper's answer for a registry it has nothing for
                why = (out or done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}").splitlines()[0]
                self.notes.append(f"{program} get failed for {host}: {why}")
            return None
        try:
            doc = json.loads(out)
            user, secret = str(doc["Username"]), str(doc["Secret"])
        except (ValueError, KeyError, TypeError):
            self.notes.append(f"{program} get answered {host} with something that is not {{Username, Secret}} JSON")
            return None
        if user == "<token>":  # an identity token (ACR, some GAR setups): an OAuth2 exchange this client does not make
            self.notes.append(f"{program} gave an identity token for {host}: not supported, {host} is read without credentials")
            return None
        return user, secret


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in ("localhost", "[::1]") or name.startswith("127.")


# host -> (credentials, where from: "from imagePullSecret NS/NAME"), from the pull secrets of an image's pods
PullCreds = Mapping[str, tuple[Creds, str]]


class Registry:
    def __init__(self, timeout: float = 5.0, credentials: Mapping[str, Creds] | Credentials | None = None, arch: str = "amd64") -> None:
        self.timeout = timeout
        self.credentials = credentials if isinstance(credentials, Credentials) else Credentials(credentials)
        self.arch = arch

    def inspect_all(self, refs: Iterable[tuple[str, ImageRef, PullCreds]], workers: int = 8) -> dict[str, Inspection]:
        todo = list(refs)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            found = pool.map(lambda item: (item[0], self.inspect(item[1], item[2])), todo)
            return dict(found)

    def inspect(self, ref: ImageRef, pull: PullCreds | None = None) -> Inspection:
        try:
            return self._inspect(ref, pull or {})
        except RegistryError as err:
            return Inspection(error=str(err))

    def _inspect(self, ref: ImageRef, pull: PullCreds) -> Inspection:
        session = _Session(self, ref, pull)
        manifest = session.json(f"manifests/{ref.digest or ref.tag}", ", ".join(MANIFEST_TYPES))
        if "manifests" in manifest:  # an index: pick our platform
            entries = manifest.get("manifests") or []
            chosen = next(
                (
                    m
                    for m in entries
                    if (m.get("platform") or {}).get("os") == "linux" and (m.get("platform") or {}).get("architecture") == self.arch
                ),
                None,
            )
            if chosen is None:
                raise RegistryError(f"no linux/{self.arch} image in the index")
            manifest = session.json(f"manifests/{chosen.get('digest')}", ", ".join(MANIFEST_TYPES))
        config_ref = manifest.get("config") or {}
        layers = manifest.get("layers")
        if not isinstance(layers, list) or not config_ref.get("digest"):
            raise RegistryError("the manifest has no config or layers (schema 1 manifests are not read)")
        sized = [(str(layer.get("digest") or ""), int(layer.get("size") or 0)) for layer in layers if isinstance(layer, dict)]
        config = session.json(f"blobs/{config_ref['digest']}", "application/json, */*")
        return Inspection(config, sum(size for _d, size in sized), layers=sized)


class _Session:
    """Requests to one repository, with the registry's auth challenge answered once."""

    def __init__(self, registry: Registry, ref: ImageRef, pull: PullCreds) -> None:
        self.registry = registry
        self.ref = ref
        self.pull = pull
        self.source = ""  # where the credentials sent came from, for messages
        host = "registry-1.docker.io" if ref.registry == "docker.io" else ref.registry
        self.base = f"{'http' if _loopback(host) else 'https'}://{host}/v2/{ref.repository}/"
        self.auth = ""

    def json(self, path: str, accept: str) -> dict[str, Any]:
        body = self._get(path, accept)
        try:
            doc = json.loads(body)
        except ValueError:
            raise RegistryError(f"{path.split('/')[0]} is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"{path.split('/')[0]} is not a JSON object")
        return doc

    def _get(self, path: str, accept: str, retry: bool = True) -> bytes:
        request = urllib.request.Request(self.base + path, headers={"Accept": accept, "User-Agent": "kubectl-perf"})
        if self.auth:  # not sent on to where a blob redirects (a CDN or bucket has its own signature)
            request.add_unredirected_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(request, timeout=self.registry.timeout) as resp:
                return bytes(resp.read(MAX_DOCUMENT))
        except urllib.error.HTTPError as err:
            if err.code == 401 and retry and not self.auth:
                self.auth = self._answer(err.headers.get("WWW-Authenticate") or "")
                return self._get(path, accept, retry=False)
            raise RegistryError(self._describe(err.code)) from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as err:
            raise RegistryError(f"cannot reach {self.ref.registry}: {_reason(err, self.registry.timeout)}") from None

    def _describe(self, code: int) -> str:
        if code == 401:
            if self.source:
                return f"unauthorized (401): the credentials for {self.ref.registry} {self.source}"
            return f"unauthorized (401): no credentials for {self.ref.registry} in {self.registry.credentials.where}"
        if code == 403:
            return f"forbidden (403): no pull access to {self.ref.name}"
        if code == 404:
            return f"not found (404): {self.ref.short}"
        return f"the registry answered {code}"

    def _answer(self, challenge: str) -> str:
        """Authorization for a 401's challenge: a bearer token from the realm, or basic credentials."""
        scheme = challenge.split(" ", 1)[0].lower()
        creds, source = self.pull.get(self.ref.registry) or (None, "")
        if creds is None:  # the pods' pull secrets first (what the kubelet pulls with), then the user's docker config
            creds, source = self.registry.credentials.lookup(self.ref.registry)
        self.source = source if creds else ""
        basic = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode() if creds else ""
        if scheme == "basic":
            if not basic:
                raise RegistryError(self._describe(401))
            return basic
        if scheme != "bearer":
            raise RegistryError(f"unsupported auth challenge {challenge[:60]!r}")
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise RegistryError("the registry's bearer challenge names no realm")
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Authorization": basic} if basic else {}
        url = f"{realm}{'&' if '?' in realm else '?'}{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self.registry.timeout) as resp:
                doc = json.loads(resp.read(MAX_DOCUMENT))
        except urllib.error.HTTPError as err:
            raise RegistryError(f"token request refused ({err.code})") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RegistryError(f"token request failed: {_reason(err, self.registry.timeout)}") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not token:
            raise RegistryError("the token service answered without a token")
        return f"Bearer {token}"


def _reason(err: BaseException, timeout: float) -> str:
    inner = getattr(err, "reason", err)
    if isinstance(inner, TimeoutError) or "timed out" in str(inner):
        return f"timed out after {timeout:g}s"
    if isinstance(inner, ConnectionRefusedError) or "refused" in str(inner).lower():
        return "connection refused"
    text = str(inner).strip().splitlines()
    return text[0] if text else type(inner).__name__
