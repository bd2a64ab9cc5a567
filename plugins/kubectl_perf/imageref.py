"""Image references as the container runtime reads them, and the base-image
families that have a distroless counterpart. Pure: used by images/ and audit/.

Normalisation follows the distribution reference grammar (docker/distribution
`reference.ParseNormalizedNamed`, which containerd and CRI-O share):
`python:3.12` is `docker.io/library/python:3.12`, a missing tag means
`:latest`, and `repo:tag@sha256:...` is pulled by its digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"  # rewritten to docker.io, as docker does
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_SPACE = re.compile(r"\s")  # what str.isspace() calls whitespace (both ask Py_UNICODE_ISSPACE), found in C
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.?)+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$")


class ImageRefError(ValueError):
    pass


@dataclass(frozen=True)
class ImageRef:
    registry: str  # docker.io, gcr.io, 127.0.0.1:5000
    repository: str  # library/python, distroless/static-debian13
    tag: str  # "" only when a digest is given without a tag
    digest: str  # sha256:..., or ""
    tag_implied: bool = False  # no tag was written: the runtime pulls :latest

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        """The normalised reference: the digest wins over a tag, as the runtime pulls it."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"

    @property
    def tagged(self) -> str:
        """name:tag, the form a node lists beside the digest form; "" without a tag."""
        return f"{self.name}:{self.tag}" if self.tag else ""

    @property
    def by_digest(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else ""

    @property
    def latest(self) -> bool:
        """Tag hygiene: `:latest` or no tag at all, and not pinned by digest."""
        return not self.digest and self.tag == "latest"

    @property
    def short(self) -> str:
        """The familiar short form people write: python:3.12, nginx@sha256:..."""
        name = self.repository
        if self.registry == DEFAULT_REGISTRY:
            name = name.removeprefix("library/")
        else:
            name = f"{self.registry}/{name}"
        return f"{name}@{self.digest}" if self.digest else f"{name}:{self.tag}"

    @property
    def display(self) -> str:
        """What a table shows: the short form, a digest cut to 8 hex digits and the tag kept beside
        it (busybox:1.38.0@sha256:abcd1234): the runtime pulls by digest, people read the tag."""
        if not self.digest:
            return self.short
        algorithm, _, hexes = self.digest.partition(":")
        name = self.short.split("@", 1)[0]
        return f"{name}{':' + self.tag if self.tag else ''}@{algorithm}:{hexes[:8]}"


def parse(text: str) -> ImageRef:
    """Parse and normalise an image reference; ImageRefError when it is not one."""
    ref = text.strip()
    if not ref or len(ref) > 4096 or _SPACE.search(ref):
        raise ImageRefError(f"invalid image reference {text!r}")
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise ImageRefError(f"invalid digest in image reference {text!r}")
        digest = digest.lower()
    tag = ""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ImageRefError(f"invalid tag in image reference {text!r}")
    first, sep, rest = ref.partition("/")
    # The first component is a registry host when it looks like one (a dot, a port, or localhost).
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise ImageRefError(f"invalid registry in image reference {text!r}")
    else:
        registry, path = DEFAULT_REGISTRY, ref
    if registry == LEGACY_REGISTRY:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not _PATH.match(path):
        raise ImageRefError(f"invalid repository in image reference {text!r} (names are lower case)")
    implied = not tag and not digest
    return ImageRef(registry, path, tag or ("latest" if implied else ""), digest, implied)


def normalise(text: str) -> str:
    """The runtime's name for a reference, or the text itself when it does not parse."""
    try:
        return str(parse(text))
    except ImageRefError:
        return text


# -- base images and their distroless counterparts ------------------------------------------

DISTROLESS = "gcr.io/distroless"
DEBIAN = "debian13"  # the Debian release distroless builds every image for (reference notes, section 6)

# Estimated sizes of the distroless images, (compressed as containerd reports them,
# uncompressed as CRI-O reports them), linux/amd64. Estimates: savings are "about".
DISTROLESS_SIZES: dict[str, tuple[int, int]] = {
    "static": (1_000_000, 2_100_000),
    "base": (8_500_000, 20_700_000),
    "base-nossl": (7_500_000, 17_000_000),
    "cc": (9_500_000, 23_500_000),
    "python3": (22_000_000, 55_000_000),
    "nodejs22": (45_000_000, 130_000_000),
    "nodejs24": (47_000_000, 135_000_000),
    "nodejs26": (48_000_000, 138_000_000),
    "java17": (78_000_000, 225_000_000),
    "java21": (80_000_000, 228_000_000),
    "java25": (82_000_000, 232_000_000),
}
SMALL_BASE = 10_000_000  # under this a base is "alpine-sized": nothing to win


@dataclass(frozen=True)
class KnownBase:
    """An official base image as published for linux/amd64: its layers (digest, compressed bytes)."""

    name: str  # the reference people write: python:3.12-slim
    family: str  # Suggestion.base: python, node, java, os
    layers: tuple[tuple[str, int], ...]

    @property
    def size(self) -> int:
        return sum(size for _digest, size in self.layers)


# Layer digests and sizes from docker-library/repo-info (tests/data/images-real/README.md says
# which file and commit). An image whose first layers are exactly these is built on that base;
# a family's entry is also the estimate of its base when nothing better is known (the slim
# variant: the smaller base, so the estimate errs low). Digests change with every rebuild of
# the base: a miss falls back on the config's history.
KNOWN_BASES: tuple[KnownBase, ...] = (
    KnownBase(
        "python:3.12-slim",
        "python",
        (
            ("sha256:26c307b5e35a59ce911f5fde5b9458120ec8734e831ea2da5649a9ad14abfd3d", 29_780_765),
            ("sha256:5a31db4cd47898e862a567028aa41f7a11d814cf69be6904173402a8b8eac5cb", 1_293_276),
            ("sha256:c85ad0bcaca895afa08053538ec1ea7642c7e9e05f5684d18e3627a2316ca8ae", 12_113_733),
            ("sha256:b3c7a9bdb4f2a30d0a1358438d1539c06b86da99135cfd9d92756863cc87ae18", 249),
        ),
    ),
    KnownBase(
        "node:22-slim",
        "node",
        (
            ("sha256:774043ccc8ccd0d0833a9ee0792142ab7ad93df971e59dd248fbf82db16d0150", 28_238_443),
            ("sha256:d456d1aa143e47912621240cd8e79286732dc069a35b0e02b03449f60df966df", 3_311),
            ("sha256:60f37e2c93ec479af36bf1f7a41277e572d820f3b1abbea47d8073b1f01aa502", 49_938_232),
            ("sha256:e53f92c42dd657487b7f7f027b206c996cd3760cda60adda79e44449b2753a29", 1_713_012),
            ("sha256:b571db164614a1290b74286b3e4f7ad934430b830515f81e922b39c75cf1dc7e", 447),
        ),
    ),
    KnownBase(
        "eclipse-temurin:21-jre",
        "java",
        (
            ("sha256:08f5f5b2a2b0d2a960804adef3bd1783c5f2c20f42db5e290dc05d9529d11ae2", 41_602_703),
            ("sha256:6a7c4f6d8c3863707c14af40aad062db2bb477271491c7d3e99e03394dd261e3", 394),
            ("sha256:57263cd37cf7a6b82cae610fd33cdccc25f8cf634134f3ddb9eeb077d1572b67", 26_432_501),
            ("sha256:29bc158c92a65d8aa39021e60c4a5e190e00e29e5cce513a7ffe5b592305ef8e", 53_097_833),
            ("sha256:65d8aee78b874a55d7c436a9e8fd8c471b683d14698b35e4cc585ccd47cea8c0", 159),
            ("sha256:e9f7426d5fbdb9614d4b3efb22b2a44a2cde4f2713423a7ebfc26fc006f2ef8c", 2_464),
        ),
    ),
    KnownBase(
        "ubuntu:24.04",
        "os",
        (("sha256:edd1ed89f0d443580bd42e5a10cd8736aba5a3438b2a0645c2ebb50119bb0eba", 29_764_116),),
    ),
)


def known_base(name: str) -> KnownBase | None:
    """The table's entry for a reference (any spelling: docker.io/library/python:3.12-slim)."""
    try:
        wanted = str(parse(name))
    except ImageRefError:
        return None
    return next((b for b in KNOWN_BASES if str(parse(b.name)) == wanted), None)


def family_base(family: str) -> KnownBase | None:
    return next((b for b in KNOWN_BASES if b.family == family), None)


@dataclass(frozen=True)
class Suggestion:
    base: str  # the family detected: python, node, java, golang, os, nginx, httpd
    distroless: str  # key of DISTROLESS_SIZES
    why: str

    @property
    def image(self) -> str:
        return f"{DISTROLESS}/{self.distroless}-{DEBIAN}"

    def estimated_size(self, compressed: bool = True) -> int:
        return DISTROLESS_SIZES[self.distroless][0 if compressed else 1]


# Repositories (normalised, without tag) that are already small or distroless.
_LEAN_PREFIXES = ("gcr.io/distroless/", "cgr.dev/chainguard/", "docker.io/chainguard/", "docker.io/library/busybox")
_LEAN_NAMES = ("docker.io/library/alpine", "docker.io/library/scratch", "cgr.dev/chainguard/wolfi-base")

_OS_BASES = {
    "docker.io/library/debian",
    "docker.io/library/ubuntu",
    "docker.io/library/centos",
    "docker.io/library/fedora",
    "docker.io/library/rockylinux",
    "docker.io/library/almalinux",
    "docker.io/library/oraclelinux",
    "docker.io/library/amazonlinux",
    "registry.access.redhat.com/ubi8/ubi",
    "registry.access.redhat.com/ubi9/ubi",
    "quay.io/centos/centos",
}
_JAVA = {
    "docker.io/library/eclipse-temurin",
    "docker.io/library/openjdk",
    "docker.io/library/amazoncorretto",
    "docker.io/library/ibm-semeru-runtimes",
    "docker.io/library/sapmachine",
    "mcr.microsoft.com/openjdk/jdk",
}


def is_lean(ref: ImageRef) -> bool:
    """Already distroless, scratch, chainguard/wolfi or alpine-based: never suggest."""
    name = ref.name
    if name.startswith(_LEAN_PREFIXES) or name in _LEAN_NAMES or "wolfi" in name:
        return True
    return "alpine" in ref.tag or name.endswith("/alpine") or "distroless" in ref.tag


def _major(text: str) -> int | None:
    match = re.search(r"(\d+)", text)
    return int(match.group(1)) if match else None


def suggest_for_name(ref: ImageRef) -> Suggestion | None:
    """A distroless counterpart for an image built on a known fat base, from its name alone."""
    if is_lean(ref):
        return None
    name, tag = ref.name, ref.tag
    if name == "docker.io/library/python":
        return Suggestion(
            "python", "python3", "python3-debian13 carries CPython 3.13 without a shell or pip: install dependencies in a build stage"
        )
    if name == "docker.io/library/node":
        return node_suggestion(tag)
    if name in _JAVA:
        return java_suggestion(tag)
    if name == "docker.io/library/golang":
        return Suggestion(
            "golang",
            "static",
            "a Go toolchain image in production: ship the binary built with CGO_ENABLED=0 on static (base if it needs cgo)",
        )
    if name in _OS_BASES:
        return Suggestion("os", "base", "a full OS userland under a native binary: base carries glibc, libssl and CA certificates")
    if name in ("docker.io/library/nginx", "docker.io/library/httpd"):
        server = name.rsplit("/", 1)[1]
        return Suggestion(
            server, "cc", f"{server} as an app base: copy the binary and its libraries onto cc, or serve static files from a static binary"
        )
    return None


def node_suggestion(version: str) -> Suggestion:
    major = _major(version)
    target = {24: "nodejs24", 26: "nodejs26"}.get(major or 0, "nodejs22")
    note = "" if major in (22, 24, 26) else f" (Node {major} has no {DEBIAN} image: move to 22)" if major else ""
    return Suggestion("node", target, f"{target}-{DEBIAN} runs node without npm or a shell{note}")


def java_suggestion(version: str) -> Suggestion:
    major = _major(version)
    target = {17: "java17", 21: "java21", 25: "java25"}.get(major or 0, "java21")
    note = "" if major in (17, 21, 25) else f" (Java {major} has no {DEBIAN} image: move to 21)" if major else ""
    return Suggestion("java", target, f"{target}-{DEBIAN} is a JRE without a shell{note}")


BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"


def base_label(config: Mapping[str, object]) -> tuple[str, str]:
    """(org.opencontainers.image.base.name, base.digest) of an image config, "" where absent."""
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return "", ""
    name, digest = labels.get(BASE_NAME_LABEL), labels.get(BASE_DIGEST_LABEL)
    return (name if isinstance(name, str) else ""), (digest if isinstance(digest, str) else "")


def suggest_for_config(config: Mapping[str, object]) -> tuple[Suggestion | None, str]:
    """Detect the base of a custom image from its OCI config (the base-name label, else
    the language runtime's env). Returns (suggestion, what was detected). How big the base
    is (alpine or not) is image_sizes' judgement, from the layers."""
    inner = config.get("config")
    if not isinstance(inner, dict):
        inner = {}
    labels = inner.get("Labels") or {}
    base_name = labels.get(BASE_NAME_LABEL) if isinstance(labels, dict) else None
    if isinstance(base_name, str) and base_name:
        try:
            base = parse(base_name)
        except ImageRefError:
            base = None
        if base is not None:
            if is_lean(base):
                return None, f"base {base.short} is already lean"
            found = suggest_for_name(base)
            if found:
                return found, f"label {BASE_NAME_LABEL}={base_name}"
    # The official images set these, naming their language runtime.
    env = {}
    for item in inner.get("Env") or []:
        if isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            env[key] = value
    if "PYTHON_VERSION" in env:
        return suggest_for_name(parse("python")), f"PYTHON_VERSION={env['PYTHON_VERSION']}"
    if "NODE_VERSION" in env:
        return node_suggestion(env["NODE_VERSION"]), f"NODE_VERSION={env['NODE_VERSION']}"
    if "JAVA_VERSION" in env:
        return java_suggestion(_java_major(env["JAVA_VERSION"])), f"JAVA_VERSION={env['JAVA_VERSION']}"
    if "GOLANG_VERSION" in env:
        return suggest_for_name(parse("golang")), f"GOLANG_VERSION={env['GOLANG_VERSION']}"
    return None, "no known base"


def _java_major(version: str) -> str:
    """jdk-21.0.5+11 -> 21; jdk8u432-b06 -> 8; 17.0.13 -> 17."""
    match = re.search(r"(\d+)", version.replace("jdk-", "").replace("jdk", ""))
    return match.group(1) if match else version
