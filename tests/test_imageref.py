"""Image references normalised as the runtime does (distribution's reference
grammar), and distroless suggestions from names and image configs."""

from __future__ import annotations

import pytest
from kubectl_perf.imageref import ImageRefError, normalise, parse, suggest_for_config, suggest_for_name

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("written", "runtime"),
    [
        ("python:3.12", "docker.io/library/python:3.12"),
        ("python", "docker.io/library/python:latest"),
        ("docker.io/python", "docker.io/library/python:latest"),
        ("index.docker.io/library/python:3", "docker.io/library/python:3"),
        ("myuser/app:1", "docker.io/myuser/app:1"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1"),
        ("127.0.0.1:5000/shop/api:2.3.1", "127.0.0.1:5000/shop/api:2.3.1"),
        ("Registry.Example.com/app:1", "Registry.Example.com/app:1"),
        ("gcr.io/distroless/static-debian13:nonroot", "gcr.io/distroless/static-debian13:nonroot"),
        (f"nginx@{D}", f"docker.io/library/nginx@{D}"),
        (f"nginx:1.27@{D}", f"docker.io/library/nginx@{D}"),
        ("[::1]:5000/app:1", "[::1]:5000/app:1"),
        ("a/b/c-d__e.f:Tag_1.2-rc", "docker.io/a/b/c-d__e.f:Tag_1.2-rc"),
    ],
)
def test_normalises_as_the_runtime(written: str, runtime: str) -> None:
    assert str(parse(written)) == runtime
    assert normalise(written) == runtime


def test_parts_and_hygiene() -> None:
    assert parse(" python:3.12\n").short == "python:3.12"  # whitespace around a reference is not part of it
    ref = parse("python")
    assert (ref.registry, ref.repository, ref.tag, ref.digest, ref.tag_implied) == ("docker.io", "library/python", "latest", "", True)
    assert ref.latest and ref.short == "python:latest"
    assert parse("python:latest").latest and not parse("python:latest").tag_implied
    pinned = parse(f"python:latest@{D}")
    assert not pinned.latest and pinned.tagged == "docker.io/library/python:latest" and pinned.by_digest == f"docker.io/library/python@{D}"
    assert parse(f"nginx@{D}").tag == "" and parse(f"nginx@{D}").tagged == ""
    assert parse("quay.io/prometheus/node-exporter:v1.8.2").short == "quay.io/prometheus/node-exporter:v1.8.2"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "python:",
        ":3",
        "Python:3",
        "a b",
        "python@sha256:zz",
        "python@md5",
        "app//x",
        "-app",
        "app:-1",
        # whitespace inside, of every kind str.isspace() knows: tab, newline, no-break, ideographic, line separator
        "py\tthon",
        "python:3\n12",
        "python\u00a0:3",
        "python:\u30003",
        "pyth\u2028on",
        "p" * 4097,  # past the length any registry accepts
    ],
)
def test_bad_references(bad: str) -> None:
    with pytest.raises(ImageRefError):
        parse(bad)
    assert normalise(bad) == bad


@pytest.mark.parametrize(
    ("image", "distroless"),
    [
        ("python:3.12", "python3"),
        ("python:3.12-slim", "python3"),
        ("node:22", "nodejs22"),
        ("node:24-bookworm", "nodejs24"),
        ("node:20", "nodejs22"),
        ("eclipse-temurin:21-jre", "java21"),
        ("amazoncorretto:17", "java17"),
        ("openjdk:11", "java21"),
        ("golang:1.23", "static"),
        ("ubuntu:24.04", "base"),
        ("debian:bookworm", "base"),
        ("nginx:1.27", "cc"),
        ("httpd:2.4", "cc"),
        ("python:3.12-alpine", None),
        ("alpine:3.20", None),
        ("node:22-alpine3.20", None),
        ("gcr.io/distroless/python3-debian13", None),
        ("cgr.dev/chainguard/python:latest", None),
        ("busybox:1.36", None),
        ("redis:7.4", None),
        ("registry.example.com/shop/api:2.3.1", None),
    ],
)
def test_suggestions_from_names(image: str, distroless: str | None) -> None:
    found = suggest_for_name(parse(image))
    assert (found.distroless if found else None) == distroless
    if found:
        assert found.image == f"gcr.io/distroless/{distroless}-debian13"


def test_old_runtimes_are_told_to_move() -> None:
    found = suggest_for_name(parse("node:20"))
    assert found is not None and "Node 20" in found.why


def config(env: list[str], labels: dict[str, str] | None = None) -> dict[str, object]:
    return {"architecture": "amd64", "os": "linux", "config": {"Env": env, "Labels": labels}}


def test_suggestions_from_image_config() -> None:
    got, why = suggest_for_config(config(["PATH=/usr/bin", "PYTHON_VERSION=3.12.7"]))
    assert got is not None and got.distroless == "python3" and why == "PYTHON_VERSION=3.12.7"
    got, _ = suggest_for_config(config(["JAVA_VERSION=jdk-21.0.5+11"]))
    assert got is not None and got.distroless == "java21"
    got, _ = suggest_for_config(config(["NODE_VERSION=24.1.0"]))
    assert got is not None and got.distroless == "nodejs24"
    got, _ = suggest_for_config(config(["GOLANG_VERSION=1.25.1"]))
    assert got is not None and got.distroless == "static"
    got, why = suggest_for_config(config([], {"org.opencontainers.image.base.name": "docker.io/library/ubuntu:24.04"}))
    assert got is not None and got.distroless == "base" and "ubuntu" in why
    # Already lean, or nothing known: no suggestion (how big the base is, image_sizes judges from the layers).
    assert suggest_for_config(config(["PYTHON_VERSION=3.12"], {"org.opencontainers.image.base.name": "python:3.12-alpine"}))[0] is None
    assert suggest_for_config(config(["PATH=/bin"])) == (None, "no known base")
    assert suggest_for_config({"config": None}) == (None, "no known base")
