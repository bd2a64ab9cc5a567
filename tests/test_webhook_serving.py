"""How perf-webhook serves, over real HTTPS under gunicorn: clients that stall at each
stage neither hold the reviews of others nor stay past their deadline; TLS versions
and suites; both address families; metrics summed over workers; no 5xx for HTTP framing."""

from __future__ import annotations

import json
import socket
import ssl
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Sim
from test_webhook import POLICY, metric
from webhook_helpers import STALL_STAGES, Webhook, pod, review, review_latencies, stalled_connection, start_webhook, still_open


@pytest.fixture(scope="module")
def patient(fixture_cluster: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """Deadlines long enough that every stalled connection is still open while we measure."""
    w = start_webhook(
        tmp_path_factory.mktemp("patient"),
        fixture_cluster,
        POLICY,
        extra=("--tls-handshake-timeout", "120", "--header-timeout", "120", "--body-timeout", "120"),
    )
    yield w
    w.stop()


def test_200_stalled_connections_at_each_stage_do_not_hold_valid_reviews(patient: Webhook) -> None:
    stalled = {stage: [stalled_connection(patient.port, stage) for _ in range(200)] for stage in STALL_STAGES}
    try:
        latencies = sorted(review_latencies(patient.port, patient.ca, 200, review(pod()), fresh_every=10))
        p99, median = latencies[int(len(latencies) * 0.99) - 1], statistics.median(latencies)
        # Held threads showed as 14-37 s per review. The 100 ms p99 target is measured by
        # bench/webhook.py --stall; on this shared machine a unit test keeps a margin.
        assert median < 0.1 and p99 < 1.0, f"p99 {p99 * 1000:.0f} ms, median {median * 1000:.1f} ms"
        assert {stage: sum(map(still_open, socks)) for stage, socks in stalled.items()} == dict.fromkeys(STALL_STAGES, 200)
    finally:
        for socks in stalled.values():
            for s in socks:
                s.close()


def test_each_stage_has_a_deadline_but_idle_keep_alive_does_not(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(
        tmp_path, fixture_cluster, POLICY, extra=("--tls-handshake-timeout", "1", "--header-timeout", "1", "--body-timeout", "1")
    )
    try:
        idle = hook.connection()
        assert hook.post(review(pod()), conn=idle)[0] == 200
        stalled = {stage: stalled_connection(hook.port, stage) for stage in STALL_STAGES}
        time.sleep(3.5)  # each deadline is 1 s; allow for a loaded machine
        assert {stage: still_open(s) for stage, s in stalled.items()} == dict.fromkeys(STALL_STAGES, False)
        assert hook.post(review(pod()), conn=idle)[0] == 200  # idle for 3.5 s, past the header deadline: still served
        idle.close()
        status, text = hook.get("/metrics")
        for stage in ("handshake", "headers", "body"):
            assert metric(text, f'perf_webhook_connections_dropped_total{{stage="{stage}"}}') >= 1
    finally:
        hook.stop()


# -- TLS (item 14) -------------------------------------------------------------------------------
def handshake(port: int, ca: Path, max_version: ssl.TLSVersion, ciphers: str | None = None) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return f"{tls.version()} {tls.cipher()[0]}"


def test_tls_defaults_refuse_cbc_suites_and_offer_aead(patient: Webhook) -> None:
    assert handshake(patient.port, patient.ca, ssl.TLSVersion.TLSv1_2) == "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"  # the first default
    assert handshake(patient.port, patient.ca, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305").endswith("CHACHA20-POLY1305")
    for cbc in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA"):
        with pytest.raises(ssl.SSLError):
            handshake(patient.port, patient.ca, ssl.TLSVersion.TLSv1_2, cbc + ":@SECLEVEL=0")


def test_tls_flags_are_the_api_servers(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(
        tmp_path,
        fixture_cluster,
        POLICY,
        extra=("--tls-min-version", "VersionTLS13"),
    )
    try:
        assert handshake(hook.port, hook.ca, ssl.TLSVersion.TLSv1_3).startswith("TLSv1.3 ")
        with pytest.raises(ssl.SSLError):
            handshake(hook.port, hook.ca, ssl.TLSVersion.TLSv1_2)
    finally:
        hook.stop()
    cbc = start_webhook(tmp_path / "cbc", fixture_cluster, POLICY, extra=("--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"))
    try:
        assert handshake(cbc.port, cbc.ca, ssl.TLSVersion.TLSv1_2) == "TLSv1.2 ECDHE-ECDSA-AES128-SHA256"
    finally:
        cbc.stop()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--tls-cipher-suites", "TLS_RSA_WITH_RC4_128_SHA", "unknown TLS cipher suite 'TLS_RSA_WITH_RC4_128_SHA'"),
        ("--tls-min-version", "VersionTLS10", "invalid choice: 'VersionTLS10'"),
        ("--header-timeout", "soon", "'soon' is not a number of seconds"),
    ],
)
def test_bad_serving_flags_stop_start_up_with_one_line(fixture_cluster: Sim, tmp_path: Path, flag: str, value: str, message: str) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, wait_ready=False, extra=(flag, value))
    assert hook.proc.wait(30) == 2
    text = hook.log.read_text()
    assert message in text and "Traceback" not in text


# -- addresses (item 15) -------------------------------------------------------------------------
def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6(), reason="this host has no IPv6 loopback")
def test_default_bind_serves_ipv4_and_ipv6(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, extra=("--bind-address", "::"))
    try:
        ctx = ssl.create_default_context(cafile=str(hook.ca))
        ctx.check_hostname = False  # the test certificate names 127.0.0.1 only
        for host in ("127.0.0.1", "::1"):
            with socket.create_connection((host, hook.port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert tls.recv(100).startswith(b"HTTP/1.1 200"), host
    finally:
        hook.stop()


# -- metrics over workers (item 11) --------------------------------------------------------------
def test_counters_are_summed_over_workers_and_never_go_backwards(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, workers=2)
    try:
        for i in range(20):  # fresh connections: the kernel hands them to either worker
            assert hook.post(review(pod(memory_limit="13Gi"), uid=f"m{i}"))[0] == 200
        seen = []
        for _ in range(12):
            text = hook.get("/metrics")[1]
            # every review, whatever its decision (a worker whose cache is still syncing allows with a warning)
            seen.append(sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith("perf_webhook_requests_total{")))
        assert seen == [20.0] * 12
    finally:
        hook.stop()


# -- HTTP framing ----------------------------------------------------------------------------------
def test_unsupported_transfer_coding_is_a_400_not_a_501(patient: Webhook) -> None:
    ctx = ssl.create_default_context(cafile=str(patient.ca))
    with socket.create_connection(("127.0.0.1", patient.port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        body = json.dumps(review(pod())).encode()
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: br, chunked\r\n\r\n")
        tls.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert tls.recv(100).split(b" ")[1].startswith(b"4")


# -- one process by default (issue 15, issue 7 item 10) ------------------------------------------
def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def test_by_default_one_worker_process_holds_the_only_cache(fixture_cluster: Sim, tmp_path: Path) -> None:
    """One process: no second cache, and no uneven share of the API server's keep-alive
    pool between workers (the throughput figures are in bench/webhook.py)."""
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, workers=None)
    try:
        assert len(children(hook.proc.pid)) == 1
        assert hook.post(review(pod()))[0] == 200
    finally:
        hook.stop()


def raw_post(hook: Webhook, head_extra: bytes, body: bytes) -> bytes:
    """A POST /validate with chunked framing written by hand; the whole answer."""
    ctx = ssl.create_default_context(cafile=str(hook.ca))
    with socket.create_connection(("127.0.0.1", hook.port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + head_extra)
        tls.sendall(b"\r\n" + body)
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and (b'"}' in answer or b"\r\n0\r\n" in answer):
                break
        return answer


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"2\r\n{}\r\n0\r\nContent-Length: 2\r\n\r\n",  # a trailer of a field RFC 9110 forbids there
        b"2\r\n{}\r\n0\r\nBad Name: yes\r\n\r\n",  # a trailer that is no header
        b"2\r\n{}XX0\r\n\r\n",  # no CRLF after the chunk
    ],
    ids=["zz-chunk-size", "forbidden-trailer", "bad-trailer", "chunk-without-crlf"],
)
def test_malformed_chunked_bodies_are_a_400_and_one_log_line(fixture_cluster: Sim, tmp_path: Path, body: bytes) -> None:
    """Issue 27 operations 12: these gave HTTP 500 and a traceback."""
    hook = start_webhook(tmp_path, fixture_cluster, POLICY)
    try:
        before = hook.log.read_text().count("\n")
        answer = raw_post(hook, b"", body)
        assert answer.split(b" ")[1] == b"400", answer[:200]
        assert b"chunked" in answer, answer[:400]  # says what was wrong with the body
        assert hook.post(review(pod()))[0] == 200  # and the worker still serves
        time.sleep(0.2)
        lines = hook.log.read_text().splitlines()[before:]
        assert "Traceback" not in "\n".join(lines)
        assert len([ln for ln in lines if "chunked" in ln]) == 1, lines
        assert 'perf_webhook_bad_requests_total{code="400"}' in hook.get("/metrics")[1]
    finally:
        hook.stop()
