"""Read an image's config and layer sizes from its registry over the OCI
distribution API (`--inspect`): anonymous bearer tokens, or the credentials in
~/.docker/config.json. Every failure is a one-line note for that image."""

from __future__ import annotations

import base64
import json
import os
import re
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


def docker_credentials(path: str | None = None) -> dict[str, tuple[str, str]]:
    """host -> (user, password) from a docker config file ($DOCKER_CONFIG or ~/.docker)."""
    path = path or os.path.join(os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker"), "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            auths = (json.load(f) or {}).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    out = {}
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
            host = urllib.parse.urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
            out["docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host] = (user, password or "")
    return out


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in ("localhost", "[::1]") or name.startswith("127.")


class Registry:
    def __init__(self, timeout: float = 5.0, credentials: Mapping[str, tuple[str, str]] | None = None, arch: str = "amd64") -> None:
        self.timeout = timeout
        self.credentials = dict(credentials or {})
        self.arch = arch

    def inspect_all(self, refs: Iterable[tuple[str, ImageRef]], workers: int = 8) -> dict[str, Inspection]:
        todo = list(refs)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            found = pool.map(lambda item: (item[0], self.inspect(item[1])), todo)
            return dict(found)

    def inspect(self, ref: ImageRef) -> Inspection:
        try:
            return self._inspect(ref)
        except RegistryError as err:
            return Inspection(error=str(err))

    def _inspect(self, ref: ImageRef) -> Inspection:
        session = _Session(self, ref)
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

    def __init__(self, registry: Registry, ref: ImageRef) -> None:
        self.registry = registry
        self.ref = ref
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
            have = self.ref.registry in self.registry.credentials
            return f"unauthorized (401): {'the credentials' if have else 'no credentials'} for {self.ref.registry} in ~/.docker/config.json"
        if code == 403:
            return f"forbidden (403): no pull access to {self.ref.name}"
        if code == 404:
            return f"not found (404): {self.ref.short}"
        return f"the registry answered {code}"

    def _answer(self, challenge: str) -> str:
        """Authorization for a 401's challenge: a bearer token from the realm, or basic credentials."""
        scheme = challenge.split(" ", 1)[0].lower()
        creds = self.registry.credentials.get(self.ref.registry)
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
