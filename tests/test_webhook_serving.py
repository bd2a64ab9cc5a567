"""How perf-webhook serves, over real HTTPS under gunicorn: clients that stall at each
stage neither hold the reviews of others nor stay past their deadline; TLS versions
and suites; both address families; metrics summed over workers; no 5xx for HTTP framing."""

from __future__ import annotations

import http.client
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
        ("--max-connections-per-source", "0", "'0' must be at least 1"),
        ("--drain-timeout", "-1", "must be more than 0"),
        # the policy's maxCacheAgeSeconds is 60: liveness must fail after readiness, not before
        ("--liveness-cache-age", "30", "must be more than the policy's maxCacheAgeSeconds (60)"),
    ],
)
def test_bad_serving_flags_stop_start_up_with_one_line(fixture_cluster: Sim, tmp_path: Path, flag: str, value: str, message: str) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, wait_ready=False, extra=(flag, value))
    assert hook.proc.wait(30) == 2
    text = hook.log.read_text()
    assert message in text and "Traceback" not in text
    # the suite's style (kubectl's): the error line starts `error: `, with no program name before it
    assert text.startswith("error: ") and message in text.splitlines()[0], text


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


def read_answer(tls: ssl.SSLSocket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    while chunk := tls.recv(65536):
        answer += chunk
    return answer


def test_an_oversized_content_length_is_a_413_at_once_and_the_connection_closes(patient: Webhook) -> None:
    """A Content-Length past the 20 MiB limit (server.MAX_BODY, restated) is answered when its
    headers arrive, not after the body timeout (120 s here): a well-formed 413 with Connection:
    close, and the connection ends once the server has lingered (2 s) or the client leaves."""
    limit = 20 * 1024 * 1024
    ctx = ssl.create_default_context(cafile=str(patient.ca))
    with socket.create_connection(("127.0.0.1", patient.port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        start = time.monotonic()
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % (limit + 1))
        answer = read_answer(tls)  # the socket's 10 s timeout fails this when the server waits for the body
        took = time.monotonic() - start
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 413 "), lines
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body) and json.loads(body) == {"error": f"the body is larger than {limit} bytes"}
    assert took < 5, f"{took:.1f} s"  # the answer at once, then at most the 2 s linger before the close
    assert patient.post(review(pod()))[0] == 200
    assert metric(patient.get("/metrics")[1], 'perf_webhook_bad_requests_total{code="413"}') >= 1


def test_a_client_still_writing_an_oversized_body_reads_its_413_not_a_reset(patient: Webhook) -> None:
    """The 413 goes out before the body is read; the server then reads and drops what follows (for
    2 s at most) before it closes, so a client that writes all its body first still reads it."""
    status, doc = patient.post(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    assert status == 413 and "larger than" in doc["error"], doc


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


# -- idle TLS connections (issue 27 availability 7) ----------------------------------------------
def worker_rss(hook: Webhook) -> int:
    """The gunicorn worker's resident set in bytes (the arbiter's only child)."""
    pid = hook.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    status = Path(f"/proc/{children[0]}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024


def idle_tls(port: int, source: str = "127.0.0.1") -> ssl.SSLSocket:
    """A connection that completes its TLS handshake and then sends nothing."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    return _IDLE.wrap_socket(raw, server_hostname="127.0.0.1")


_IDLE = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
_IDLE.check_hostname, _IDLE.verify_mode = False, ssl.CERT_NONE


def review_from(hook: Webhook, source: str) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", hook.port, context=ssl.create_default_context(cafile=str(hook.ca)), timeout=30)
    conn.source_address = (source, 0)
    try:
        return hook.post(review(pod()), conn=conn)[0]
    finally:
        conn.close()


def test_idle_tls_connections_are_closed_at_the_header_timeout_with_rss_bounded_and_reviews_answered(
    fixture_cluster: Sim, tmp_path: Path
) -> None:
    """The review's repro, scaled down: connections that handshake and send nothing were held for
    the keep-alive timeout (75 s); 10,000 took RSS from 69 to 311 MB. With --header-timeout 2 each
    of three rounds of 400 is closed within the header timeout (allowing 2 s for a loaded machine),
    a review from another connection answers while they are open, each costs the worker less than
    server.CONNECTION_COST (measured: 26 KiB), and the rounds leave RSS where the first left it.

    The deadline runs from each connection's handshake, so the check waits from the last one's:
    on a loaded CI machine opening 400 TLS connections alone took over 2 s, and a check timed
    from the first found the last 14 still (rightly) open."""
    from perf_webhook.server import CONNECTION_COST

    hook = start_webhook(tmp_path, fixture_cluster, POLICY, extra=("--header-timeout", "2"))
    try:
        assert hook.post(review(pod()))[0] == 200
        before = worker_rss(hook)
        after_rounds = []
        for _ in range(3):
            idle = [idle_tls(hook.port) for _ in range(400)]
            last_handshake = time.monotonic()
            held = worker_rss(hook)
            assert hook.post(review(pod()))[0] == 200
            assert (held - before) / 400 < CONNECTION_COST, f"{(held - before) / 400 / 1024:.1f} KiB a connection"
            time.sleep(max(0.0, last_handshake + 2 + 2 - time.monotonic()))
            assert sum(map(still_open, idle)) == 0, "idle connections outlived --header-timeout"
            for s in idle:
                s.close()
            after_rounds.append(worker_rss(hook))
        assert after_rounds[-1] - after_rounds[0] < 8 * 1024 * 1024, [r // 1024 for r in after_rounds]
        status, text = hook.get("/metrics")
        assert metric(text, 'perf_webhook_connections_dropped_total{stage="headers"}') >= 1200
    finally:
        hook.stop()


def test_one_address_holds_at_most_its_share_of_connections(fixture_cluster: Sim, tmp_path: Path) -> None:
    """--max-connections 40: one address may hold 20 (half); the 21st from it is closed at once,
    while a client from another address (127.0.0.2, as a second API server) is served."""
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, extra=("--max-connections", "40", "--header-timeout", "60"))
    try:
        held = [idle_tls(hook.port) for _ in range(20)]
        with pytest.raises((ssl.SSLError, OSError)):
            extra = idle_tls(hook.port)
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(1) == b""  # closed without an answer
            raise ConnectionResetError("closed")
        assert review_from(hook, "127.0.0.2") == 200
        assert sum(map(still_open, held)) == 20
        for s in held:
            s.close()
        time.sleep(0.5)
        status, text = hook.get("/metrics")
        assert metric(text, 'perf_webhook_connections_dropped_total{stage="per_source_limit"}') >= 1
        assert "at most 40 connections per worker, 20 per client address" in hook.log.read_text()
    finally:
        hook.stop()


def test_max_connections_defaults_from_the_cgroup_memory_limit(tmp_path: Path) -> None:
    from perf_webhook.server import default_max_connections, memory_limit

    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    v2.write_text("max\n")
    assert memory_limit((str(v2), str(v1))) is None
    v2.write_text(f"{256 * 1024**2}\n")
    assert memory_limit((str(v2),)) == 256 * 1024**2
    v1.write_text("9223372036854771712\n")  # cgroup v1's "no limit"
    assert memory_limit((str(tmp_path / "absent"), str(v1))) is None
    assert memory_limit((str(tmp_path / "absent"),)) is None
    # By hand: 256 MiB - 192 MiB reserve = 64 MiB, at 32 KiB a connection = 2,048.
    assert default_max_connections(256 * 1024**2) == 2048
    # 384 MiB with 2 workers: (384 - 2 x 192) MiB left = 0 -> the floor of 100.
    assert default_max_connections(384 * 1024**2, workers=2) == 100
    assert default_max_connections(4 * 1024**3) == 10000  # (4096 - 192) MiB / 32 KiB = 124,928 -> the ceiling
    assert default_max_connections(None) == 10000


# -- draining (issue 27 operations 14) -----------------------------------------------------------
def test_after_sigterm_open_keep_alive_connections_are_answered_with_connection_close(fixture_cluster: Sim, tmp_path: Path) -> None:
    """The API server keeps idle connections to the webhook and may write a review on one just
    as the pod stops: closing them at SIGTERM (at the worker's next one-second check) failed that
    review with EOF on every rollout. Now a review sent 1.5 s after SIGTERM on an open keep-alive
    connection is answered, with Connection: close; a connection left idle is closed when the drain (--drain-timeout 3) ends,
    and the process exits within the drain and gunicorn's 1 s beyond it."""
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, extra=("--drain-timeout", "3"))
    ctx = ssl.create_default_context(cafile=str(hook.ca))
    busy = http.client.HTTPSConnection("127.0.0.1", hook.port, context=ctx, timeout=30)
    idle = http.client.HTTPSConnection("127.0.0.1", hook.port, context=ctx, timeout=30)
    try:
        for conn in (busy, idle):
            assert hook.post(review(pod()), conn=conn)[0] == 200  # both now idle keep-alive connections
        hook.proc.terminate()
        stopped = time.monotonic()
        time.sleep(1.5)  # past the one-second check at which idle connections used to be closed
        busy.request("POST", "/validate", body=json.dumps(review(pod())).encode(), headers={"Content-Type": "application/json"})
        answer = busy.getresponse()
        body = json.loads(answer.read())
        assert answer.status == 200 and body["response"]["allowed"] is True
        assert answer.getheader("Connection") == "close"
        assert idle.sock is not None and still_open(idle.sock)  # idle, and still open within the drain
        hook.proc.wait(15)
        assert time.monotonic() - stopped < 3 + 1 + 1.5, "the worker outlived its drain"
        assert not still_open(idle.sock)
    finally:
        busy.close()
        idle.close()
        hook.stop()
