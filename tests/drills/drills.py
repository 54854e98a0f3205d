"""The fault drills: each breaks one part of a running stack while real clients drive it over
loopback HTTP, then counts what the clients saw and what the database holds.

Every drill returns its figures (a dict) and raises DrillFailed when something was lost,
duplicated, answered 500 or did not recover. Clients behave like well-made field clients:
they retry a request after a connection error or a 503 (waiting Retry-After), and a retried
2030.5 POST is the same request, which the server stores once.
"""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

import psycopg

from tests.drills.stack import ROOT, Stack

SEP = "application/sep+xml"
NS = "urn:ieee:std:2030.5:ns"
EPOCH_BASE = int(time.time()) - 3 * 86400  # readings in the recent past, minute-aligned
EPOCH_BASE -= EPOCH_BASE % 60


class DrillFailed(AssertionError):
    """A drill found loss, duplication, a 500, or no recovery."""


@dataclass
class Outcome:
    """What one logical request took: its attempts and the statuses they got."""

    statuses: list[int | str] = field(default_factory=list)
    done: bool = False
    seconds: float = 0.0
    finished_at: float = 0.0


class Client:
    """An HTTP client for the stack: 2030.5 as nginx forwards it, the API with a token."""

    def __init__(self, stack: Stack, world: dict):
        self.stack = stack
        self.world = world
        self.sep_headers = {
            "X-SSL-Client-Cert": quote(world["cert_pem"], safe=""),
            "X-SSL-Client-Verify": "SUCCESS",
            "X-Reservoir-Proxy-Secret": stack.proxy_secret,
        }

    def once(self, base: str, method: str, path: str, body: bytes | None, headers: dict):
        url = urlparse(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Retry-After"), response.read()
        finally:
            conn.close()

    def until_done(
        self, base, method, path, body=None, headers=None, *, deadline_s: float = 120
    ) -> tuple[Outcome, bytes, dict]:
        """Send until a 2xx or 4xx; retry connection errors, 503 and other 5xx."""
        outcome, started = Outcome(), time.monotonic()
        content = b""
        while time.monotonic() - started < deadline_s:
            try:
                status, retry_after, content = self.once(base, method, path, body, headers or {})
            except (OSError, http.client.HTTPException) as exc:
                outcome.statuses.append(type(exc).__name__)
                time.sleep(0.2)
                continue
            outcome.statuses.append(status)
            if status < 500:
                outcome.done = 200 <= status < 300
                break
            time.sleep(min(float(retry_after or 0.5), 2.0))
        outcome.seconds = time.monotonic() - started
        outcome.finished_at = time.monotonic()
        return outcome, content, {}

    def sep(self, method: str, path: str, body: bytes | None = None, **kw):
        headers = {**self.sep_headers, **({"Content-Type": SEP} if body else {})}
        return self.until_done(self.stack.sep2, method, path, body, headers, **kw)

    def api(self, path: str, **kw):
        headers = {"Authorization": f"Token {self.world['token']}"}
        return self.until_done(self.stack.web, "GET", path, None, headers, **kw)


def mup_body(lfdi: str, mrid: str) -> bytes:
    return (
        f'<MirrorUsagePoint xmlns="{NS}"><mRID>{mrid}</mRID><roleFlags>09</roleFlags>'
        f"<serviceCategoryKind>0</serviceCategoryKind><status>1</status>"
        f"<deviceLFDI>{lfdi}</deviceLFDI></MirrorUsagePoint>"
    ).encode()


def mmr_body(mrid: str, at: int, value: int) -> bytes:
    return (
        f'<MirrorMeterReading xmlns="{NS}"><mRID>{mrid}</mRID>'
        f"<Reading><timePeriod><duration>60</duration><start>{at}</start></timePeriod>"
        f"<value>{value}</value></Reading>"
        f"<ReadingType><kind>37</kind><powerOfTenMultiplier>0</powerOfTenMultiplier>"
        f"<uom>38</uom></ReadingType></MirrorMeterReading>"
    ).encode()


def der_status_body(at: int, soc: int) -> bytes:
    return (
        f'<DERStatus xmlns="{NS}"><readingTime>{at}</readingTime>'
        f"<stateOfChargeStatus><dateTime>{at}</dateTime><value>{soc}</value>"
        f"</stateOfChargeStatus></DERStatus>"
    ).encode()


def mirrors(stack: Stack, client: Client, world: dict) -> dict[int, int]:
    """A MirrorUsagePoint per end device: end device id -> mirror id (from Location)."""
    found = {}
    for ed in world["end_devices"]:
        mrid = f"{ed['id']:032X}"
        status, _, _ = client.once(stack.sep2, "POST", "/mup", mup_body(ed["lfdi"], mrid), {
            **client.sep_headers, "Content-Type": SEP,
        })  # fmt: skip
        if status not in (201, 204):
            raise DrillFailed(f"creating the mirror of end device {ed['id']}: {status}")
    with db(stack) as cursor:
        cursor.execute("SELECT end_device_id, id FROM protocol_mirrorusagepoint")
        found = dict(cursor.fetchall())
    return found


def db(stack: Stack):
    return psycopg.connect(stack.postgres.url(), autocommit=True).cursor()


def samples(stack: Stack, device_ids: list[int], channel: str = "w") -> tuple[int, int]:
    """(rows, distinct (device, at)) of the channel for these devices."""
    with db(stack) as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT (device_id, at)) FROM devices_telemetrysample "
            "WHERE channel = %s AND device_id = ANY(%s)",
            [channel, device_ids],
        )
        return cursor.fetchone()


def stored_times(stack: Stack, device_id: int) -> set[int]:
    with db(stack) as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM at)::bigint FROM devices_telemetrysample "
            "WHERE channel = 'w' AND device_id = %s",
            [device_id],
        )
        return {row[0] for row in cursor.fetchall()}


def _pool(jobs, workers: int):
    """Run callables on `workers` threads; their results in order."""
    results: list = [None] * len(jobs)
    index = iter(range(len(jobs)))
    lock = threading.Lock()

    def run():
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            results[i] = jobs[i]()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- 4. duplicate MirrorMeterReadings --------------------------------------------------


def duplicate_readings(stack: Stack, world: dict, *, posts: int, threads: int) -> dict:
    """`posts` MMR posts, each (mirror, reading time) twice, all at once: stored once."""
    client = Client(stack, world)
    by_ed = mirrors(stack, client, world)
    eds = world["end_devices"]
    distinct = posts // 2
    readings = []
    for i in range(distinct):
        ed = eds[i % len(eds)]
        at = EPOCH_BASE + 60 * (i // len(eds))
        readings.append((by_ed[ed["id"]], at, 1000 + i % 500))
    jobs = []
    for mid, at, value in readings * 2:
        body = mmr_body(f"{mid:016X}{'57':0>16}", at, value)
        jobs.append(lambda mid=mid, body=body: client.sep("POST", f"/mup/{mid}", body)[0])
    random.Random(20).shuffle(jobs)
    started = time.monotonic()
    outcomes = _pool(jobs, threads)
    elapsed = time.monotonic() - started
    statuses = Counter(s for o in outcomes for s in o.statuses)
    rows, unique = samples(stack, [ed["device"] for ed in eds])
    figures = {
        "posts": len(jobs),
        "distinct_readings": distinct,
        "answered_2xx": sum(o.done for o in outcomes),
        "answered_5xx": sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500),
        "statuses": dict(statuses),
        "stored": rows,
        "duplicates_stored": rows - unique,
        "lost": distinct - unique,
        "seconds": round(elapsed, 1),
    }
    if figures["answered_5xx"] or figures["duplicates_stored"] or figures["lost"]:
        raise DrillFailed(f"duplicate readings: {figures}")
    return figures


# --- traffic while something breaks ----------------------------------------------------


class Traffic:
    """Field clients posting fresh readings and DERStatus, and a manager reading the API,
    until stopped; it remembers every reading the server acknowledged."""

    def __init__(self, stack: Stack, world: dict, by_ed: dict[int, int], *, threads: int):
        self.client = Client(stack, world)
        self.stack, self.world, self.by_ed = stack, world, by_ed
        self.threads = threads
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: dict[int, set[int]] = {}
        self.outcomes: list[tuple[str, Outcome]] = []
        self._threads: list[threading.Thread] = []
        self._seq: Counter[int] = Counter()

    def _next_time(self, device: int) -> int:
        """The device's next minute from two days ago (a count per device: one for all
        would reach the present after 2,880 posts)."""
        with self.lock:
            self._seq[device] += 1
            return EPOCH_BASE + 86400 + 60 * self._seq[device]

    def _run(self, n: int):
        eds = self.world["end_devices"]
        round_ = 0
        while not self.stop.is_set():
            ed = eds[(n + round_ * self.threads) % len(eds)]
            round_ += 1
            kind = ("mmr", "mmr", "dstat", "api")[round_ % 4]
            if kind == "mmr":
                at, mid = self._next_time(ed["device"]), self.by_ed[ed["id"]]
                outcome, _, _ = self.client.sep(
                    "POST", f"/mup/{mid}", mmr_body(f"{mid:016X}{'57':0>16}", at, 1500)
                )
                if outcome.done:
                    with self.lock:
                        self.acknowledged.setdefault(ed["device"], set()).add(at)
            elif kind == "dstat":
                body = der_status_body(int(time.time()) - 5, 50)
                outcome, _, _ = self.client.sep("PUT", f"/edev/{ed['id']}/der/0/ders", body)
            else:
                outcome, _, _ = self.client.api("/api/v1/programs/")
            with self.lock:
                self.outcomes.append((kind, outcome))

    def __enter__(self):
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=180)

    def figures(self, *, since: float, back_at: float) -> dict:
        statuses = Counter(s for _, o in self.outcomes for s in o.statuses)
        after = [o for _, o in self.outcomes if o.done and o.finished_at >= back_at]
        hit = [o for _, o in self.outcomes if o.finished_at >= since]
        lost = 0
        for device, times in self.acknowledged.items():
            lost += len(times - stored_times(self.stack, device))
        return {
            "requests": len(self.outcomes),
            "in_flight_when_broken": sum(
                1 for _, o in self.outcomes if o.finished_at - o.seconds <= since <= o.finished_at
            ),
            "answered_500": statuses.get(500, 0),
            "answered_503": statuses.get(503, 0),
            "connection_errors": sum(n for s, n in statuses.items() if isinstance(s, str)),
            "statuses": {str(k): v for k, v in statuses.items()},
            "not_done": sum(1 for _, o in self.outcomes if not o.done),
            "readings_acknowledged": sum(len(t) for t in self.acknowledged.values()),
            "readings_lost": lost,
            "longest_request_s": round(max((o.seconds for o in hit), default=0.0), 1),
            "recovery_s": (
                round(min(o.finished_at for o in after) - back_at, 1) if after else None
            ),
        }


def _check(name: str, figures: dict) -> dict:
    if figures["answered_500"] or figures["readings_lost"] or figures["recovery_s"] is None:
        raise DrillFailed(f"{name}: {figures}")
    return figures


# --- 2. PostgreSQL away ----------------------------------------------------------------


def postgres_restart(stack: Stack, world: dict, by_ed, *, outage_s: float, threads: int) -> dict:
    with Traffic(stack, world, by_ed, threads=threads) as traffic:
        time.sleep(2)
        down = time.monotonic()
        stack.postgres.stop("fast")
        time.sleep(outage_s)
        stack.postgres.start()
        back = time.monotonic()
        time.sleep(min(10.0, outage_s + 3))
    figures = traffic.figures(since=down, back_at=back)
    figures["outage_s"] = outage_s
    return _check("postgres restart", figures)


# --- 3. Redis away ---------------------------------------------------------------------


def heartbeat_age(stack: Stack) -> float:
    with db(stack) as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM now() - at) FROM portal_heartbeat WHERE source = 'worker'"
        )
        row = cursor.fetchone()
        return float(row[0]) if row else float("inf")


class LiveWatcher:
    """A browser's live page: a WebSocket on the program's topic, reconnecting by itself
    (as the page's script does) whenever the socket drops."""

    def __init__(self, stack: Stack, world: dict):
        self.url = (
            f"ws://127.0.0.1:{stack.web_port}/ws/utility/{world['utility']}/"
            f"program.{world['program']}/"
        )
        self.headers = {"Cookie": f"sessionid={world['session']}", "Origin": stack.web}
        self.pushes: list[float] = []
        self.connects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from websockets.sync.client import connect

        while not self.stop.is_set():
            try:
                with connect(self.url, additional_headers=self.headers, open_timeout=5) as ws:
                    self.connects += 1
                    while not self.stop.is_set():
                        try:
                            message = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message.get("type") == "push":
                            self.pushes.append(time.monotonic())
            except Exception:  # any drop: wait a moment and reconnect
                time.sleep(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


def redis_restart(stack: Stack, world: dict, by_ed, *, outage_s: float, threads: int) -> dict:
    with (
        LiveWatcher(stack, world) as live,
        Traffic(stack, world, by_ed, threads=threads) as traffic,
    ):
        warm = time.monotonic()
        while not live.pushes and time.monotonic() - warm < 30:  # the page is live first
            time.sleep(0.2)
        down = time.monotonic()
        stack.redis.stop()
        time.sleep(outage_s)
        stack.redis.start()
        back = time.monotonic()
        # The worker and beat reconnect: the worker's heartbeat (sent by beat) is fresh again.
        deadline = back + 90
        while heartbeat_age(stack) > 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        worker_back = time.monotonic()
        while not any(t > back for t in live.pushes) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
    figures = traffic.figures(since=down, back_at=back)
    figures["outage_s"] = outage_s
    resumed = [t for t in live.pushes if t > back]
    figures["live_pushes_before"] = sum(1 for t in live.pushes if t < down)
    figures["live_socket_connects"] = live.connects
    figures["live_push_resumed_s"] = round(resumed[0] - back, 1) if resumed else None
    if not figures["live_pushes_before"] or figures["live_push_resumed_s"] is None:
        raise DrillFailed(f"redis restart: the live page's pushes did not resume: {figures}")
    figures["worker_heartbeat_recovery_s"] = (
        round(worker_back - back, 1) if worker_back < deadline else None
    )
    if figures["worker_heartbeat_recovery_s"] is None:
        raise DrillFailed(f"redis restart: the worker never came back: {figures}")
    return _check("redis restart", figures)


# --- 5. an ASGI worker killed ----------------------------------------------------------


def _tls_context(pki: dict):
    import ssl

    context = ssl.create_default_context(cafile=pki["ca_bundle"])
    context.check_hostname = False  # the test server certificate names no host
    context.load_cert_chain(pki["client_cert"], pki["client_key"])
    return context


def nginx_upstream_retries(stack: Stack) -> int:
    """How often nginx lost a worker mid-request and tried the next upstream server."""
    log = stack.root / "nginx" / "error.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if "upstream" in line and "[error]" in line)


def asgi_worker_kill(stack: Stack, world: dict, by_ed, *, threads: int, kills: int = 3) -> dict:
    """Field clients through nginx (mutual TLS, the committed snippets), each request sent
    once, no client retry, while uvicorn workers of the 2030.5 listener are SIGKILLed one
    after another: every GET and PUT is answered 2xx (nginx resent it to a live worker), and
    every POST is either stored exactly once or refused (502), never stored twice or half."""
    workers = stack.workers("sep2")
    if len(workers) < 2:
        raise DrillFailed(f"the 2030.5 listener runs {len(workers)} worker(s); the drill needs 2")
    context = _tls_context(world["pki"])
    eds = world["end_devices"]
    stop, lock = threading.Event(), threading.Lock()
    records: list[tuple[str, float, float, int | str]] = []
    posted: dict[tuple[int, int], int | str] = {}
    # Each device's readings step through its own minutes from a day ago: one count for all
    # would pass the present after 1,440 posts (a fast listener takes more in the drill).
    seq: Counter[int] = Counter()
    headers = {"Content-Type": SEP}

    def drive(n: int):
        conn = None
        i = 0
        while not stop.is_set():
            ed = eds[(n + i * threads) % len(eds)]
            i += 1
            kind = ("get", "get", "mmr", "dstat")[i % 4]
            body, key = None, None
            if kind == "get":
                method, path = "GET", (f"/edev/{ed['id']}" if i % 8 else "/dcap")
            elif kind == "dstat":
                method, path = "PUT", f"/edev/{ed['id']}/der/0/ders"
                body = der_status_body(int(time.time()) - 5, 50)
            else:
                with lock:
                    seq[ed["device"]] += 1
                    at = EPOCH_BASE + 2 * 86400 + 60 * seq[ed["device"]]
                mid = by_ed[ed["id"]]
                method, path = "POST", f"/mup/{mid}"
                body, key = mmr_body(f"{mid:016X}{'57':0>16}", at, 1700), (ed["device"], at)
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(
                        "127.0.0.1", stack.tls_port, context=context, timeout=60
                    )
                conn.request(method, path, body=body, headers=headers if body else {})
                response = conn.getresponse()
                response.read()
                status: int | str = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = None
            with lock:
                records.append((kind, started, time.monotonic(), status))
                if key:
                    posted[key] = status
        if conn is not None:
            conn.close()

    pool = [threading.Thread(target=drive, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    kill_times, restarts = [], []
    try:
        time.sleep(2)
        for _ in range(kills):
            current = stack.workers("sep2")
            victim = current[0]
            down = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            kill_times.append(down)
            while time.monotonic() - down < 60:
                now = stack.workers("sep2")
                if len(now) == len(workers) and victim not in now:
                    break
                time.sleep(0.2)
            restarts.append(time.monotonic() - down)
            # The new worker boots Django before it accepts; killing the other one meanwhile
            # would be two faults at once (nothing left to retry on).
            time.sleep(4)
        time.sleep(2)
    finally:
        stop.set()
        for thread in pool:
            thread.join(timeout=120)
    statuses = Counter(status for *_, status in records)
    failed = Counter(
        kind for kind, _, _, status in records
        if kind != "mmr" and not (isinstance(status, int) and 200 <= status < 300)
    )  # fmt: skip
    stored: dict[tuple[int, int], int] = {}
    with db(stack) as cursor:
        cursor.execute(
            "SELECT device_id, extract(epoch FROM at)::bigint, count(*) "
            "FROM devices_telemetrysample WHERE channel = 'w' AND device_id = ANY(%s) "
            "AND at >= to_timestamp(%s) GROUP BY 1, 2",
            [[ed["device"] for ed in eds], EPOCH_BASE + 2 * 86400],
        )
        for device, at, count in cursor.fetchall():
            stored[(device, at)] = count
    acknowledged = [k for k, s in posted.items() if isinstance(s, int) and 200 <= s < 300]
    refused = [k for k in posted if k not in set(acknowledged)]
    # Recovery: from each kill to the first request after it that was answered 2xx.
    answered = sorted(end for _, _, end, s in records if isinstance(s, int) and s < 300)
    recovery = [next((end - t for end in answered if end >= t), None) for t in kill_times]
    figures = {
        "killed": f"SIGKILL, {kills} times, one of the 2030.5 listener's {len(workers)} workers",
        "requests": len(records),
        "in_flight_when_killed": sum(
            1 for t in kill_times for _, start, end, _ in records if start <= t <= end
        ),
        "nginx_upstream_retries": nginx_upstream_retries(stack),
        "statuses": {str(k): v for k, v in statuses.items()},
        "answered_500": statuses.get(500, 0),
        "gets": sum(1 for kind, *_ in records if kind == "get"),
        "gets_failed": failed.get("get", 0),
        "puts": sum(1 for kind, *_ in records if kind == "dstat"),
        "puts_failed": failed.get("dstat", 0),
        "not_done": sum(failed.values()),
        "posts": len(posted),
        "posts_refused": len(refused),
        # The drill posts valid readings only: one refused for what it says is the drill's
        # own fault (a reading time in the future), not the kill's.
        "posts_refused_as_invalid": sum(1 for k in refused if posted[k] == 400),
        "posts_refused_but_stored": sum(1 for k in refused if k in stored),
        "readings_acknowledged": len(acknowledged),
        "readings_lost": sum(1 for k in acknowledged if k not in stored),
        "readings_duplicated": sum(count - 1 for count in stored.values()),
        "readings_unasked": sum(1 for k in stored if k not in posted),
        "longest_request_s": round(max(end - start for _, start, end, _ in records), 1),
        "worker_restarted_s": round(max(restarts), 1),
        "recovery_s": None if None in recovery else round(max(recovery), 2),
    }
    if (
        figures["worker_restarted_s"] >= 60
        or figures["not_done"]
        or figures["posts_refused_as_invalid"]
        or figures["readings_duplicated"]
        or figures["readings_unasked"]
    ):
        raise DrillFailed(f"asgi worker kill: {figures}")
    return _check("asgi worker kill", figures)


# --- 1. the Celery worker stopped and killed while an event starts ---------------------


def event_state(stack: Stack, event_id: int) -> tuple[str, Counter]:
    with db(stack) as cursor:
        cursor.execute("SELECT status FROM programs_event WHERE id = %s", [event_id])
        status = cursor.fetchone()[0]
        cursor.execute(
            "SELECT from_status, to_status FROM programs_eventtransition WHERE event_id = %s",
            [event_id],
        )
        return status, Counter(f"{a or 'new'}->{b}" for a, b in cursor.fetchall())


def new_event(stack: Stack, world_path: Path, start_in_s: float, duration_s: int) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "tests.drills.world", "event", str(world_path),
         str(start_in_s), str(duration_s)],
        cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode:
        raise DrillFailed(f"creating the drill's event failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.strip().splitlines()[-1])


def _wait_active(stack: Stack, event_id: int, timeout_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if event_state(stack, event_id)[0] == "active":
            return time.monotonic() - started
        time.sleep(0.3)
    return None


class NotificationReceiver:
    """The subscribers' notificationURI: a loopback HTTP server that answers 204 and counts
    what it accepted per path. `hold_next()` makes it keep the next POST unanswered until
    `release()`, so the worker delivering it is stuck mid-task when the drill kills it;
    `refuse_next()` makes it answer the next POST 503, so the worker holds that
    notification's retry (taken off the broker, not acknowledged) until it is due."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.accepted: Counter = Counter()
        self.cut_off = 0
        self.lock = threading.Lock()
        self.holding = False
        self.held = threading.Event()
        self.released = threading.Event()
        self.refusing = False
        self.refused = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    refuse, receiver.refusing = receiver.refusing, False
                if refuse:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    receiver.refused.set()
                    return
                with receiver.lock:
                    hold, receiver.holding = receiver.holding, False
                if hold:
                    receiver.held.set()
                    receiver.released.wait(60)
                try:
                    self.send_response(204)
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    hold = True
                if hold:  # the sender died before this answer: not delivered
                    with receiver.lock:
                        receiver.cut_off += 1
                    return
                with receiver.lock:
                    receiver.accepted[self.path] += 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold_next(self):
        self.held.clear()
        self.released.clear()
        with self.lock:
            self.holding = True

    def release(self):
        self.released.set()

    def refuse_next(self):
        self.refused.clear()
        with self.lock:
            self.refusing = True

    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())

    def close(self):
        self.release()
        self.server.shutdown()


def transitions_since(stack: Stack, after_id: int) -> list[tuple[int, int, str, str, float]]:
    """(id, event, from, to, at) of every event transition recorded after `after_id`."""
    with db(stack) as cursor:
        cursor.execute(
            "SELECT id, event_id, from_status, to_status, extract(epoch FROM at)::float "
            "FROM programs_eventtransition "
            "WHERE id > %s ORDER BY id",
            [after_id],
        )
        return cursor.fetchall()


def audit_gaps(stack: Stack, event_id: int) -> list[str]:
    """Transitions of the event whose from-status is not the previous one's to-status."""
    rows = [r for r in transitions_since(stack, 0) if r[1] == event_id]
    gaps, before = [], ""
    for _, _, from_status, to_status, _ in rows:
        if (from_status or "") != before:
            gaps.append(f"{before or 'new'} then {from_status or 'new'}->{to_status}")
        before = to_status
    return gaps


def celery_worker_faults(
    stack: Stack,
    world: dict,
    world_path: Path,
    receiver: NotificationReceiver,
    *,
    start_in_s: float,
) -> dict:
    """The worker stopped while an event is due, then resumed or killed; and the worker's
    pool process killed mid-task, while it delivers the activation's notification. Each
    time: the event active once, the audit unbroken, each notification accepted once.

    When the whole worker is killed it holds a notification it took off the broker: the
    subscriber refused the creation's first one (503), and its retry waits in the worker
    (unacknowledged; on Redis it would come back only after the visibility timeout, an
    hour). The outbox's sweep must send it again within the drill."""
    figures: dict = {}
    subscriptions = len(world["subscriptions"])
    for fault in ("sigstop-sigcont", "sigstop-sigkill-restart", "sigstop-sigkill-mid-task"):
        last = max((r[0] for r in transitions_since(stack, 0)), default=0)
        accepted_before, cut_before = receiver.total(), receiver.cut_off
        mid_task = fault.endswith("mid-task")
        in_flight = 0
        start_in = start_in_s
        if fault == "sigstop-sigkill-restart":
            # The creation's notifications (two changes) go out while the worker runs, the
            # first refused; the worker is stopped once it holds that one's retry, and every
            # other one was taken and recorded (a notification taken by the subscriber but
            # not yet recorded when the worker dies is sent again: at least once, by design).
            start_in = start_in_s + 20
            receiver.refuse_next()
            created = time.monotonic()
            event_id = new_event(stack, world_path, start_in, 600)
            deadline = created + start_in - 3  # stopped before the event starts
            while not receiver.refused.is_set() or (
                receiver.total() - accepted_before < 2 * subscriptions - 1
            ):
                if time.monotonic() > deadline:
                    raise DrillFailed("celery worker: the creation's notifications were late")
                time.sleep(0.1)
            time.sleep(1)  # the last one's delivery is recorded
            stack.signal("worker", signal.SIGSTOP)
            in_flight = 1
            # Beat has sent the activation; the worker cannot take it.
            time.sleep(max(0.0, created + start_in + 6 - time.monotonic()))
        elif fault == "sigstop-sigcont":
            stack.signal("worker", signal.SIGSTOP)
            event_id = new_event(stack, world_path, start_in, 600)
            time.sleep(start_in + 6)  # beat has sent the activation; the worker cannot take it
        else:
            event_id = new_event(stack, world_path, start_in, 600)
        if mid_task:
            # The creation's notifications are delivered; the activation's first one is
            # kept unanswered: the pool process is inside the task, blocked on the POST.
            deadline = time.monotonic() + 30
            while receiver.total() - accepted_before < 2 * subscriptions:
                if time.monotonic() > deadline:
                    raise DrillFailed("celery worker: the creation's notifications never came")
                time.sleep(0.1)
            receiver.hold_next()
            if not receiver.held.wait(start_in_s + 60):
                raise DrillFailed("celery worker: the activation's notification never came")
            stack.signal("worker", signal.SIGSTOP)
            pool = stack.children("worker")
            in_flight = 1
            time.sleep(1)
            held = event_state(stack, event_id)[0]
            resumed = time.monotonic()
            for pid in pool:  # the task's process dies; the worker itself lives on
                os.kill(pid, signal.SIGKILL)
            stack.signal("worker", signal.SIGCONT)
            time.sleep(0.5)
            receiver.release()
        else:
            held = event_state(stack, event_id)[0]
            resumed = time.monotonic()
            if fault == "sigstop-sigcont":
                stack.signal("worker", signal.SIGCONT)
            else:
                stack.kill("worker")
                stack.start_process("worker")
        waited = _wait_active(stack, event_id, 120)
        # One notification per subscriber per committed change of an event: the changes
        # one transaction makes (created as draft, then scheduled) share their time.
        changes = {(r[1], r[4]) for r in transitions_since(stack, last)}
        expected = len(changes) * subscriptions
        deadline = time.monotonic() + 60
        while receiver.total() - accepted_before < expected and time.monotonic() < deadline:
            time.sleep(0.3)
        delivered_s = time.monotonic() - resumed
        time.sleep(3)  # a duplicate delivery would land now
        status, counted = event_state(stack, event_id)
        accepted = receiver.total() - accepted_before
        result = {
            "killed": {
                "sigstop-sigcont": "none (SIGSTOP 6 s past the start, then SIGCONT)",
                "sigstop-sigkill-restart": "the whole worker (SIGSTOP, SIGKILL) holding a retry",
                "sigstop-sigkill-mid-task": "the pool process inside a notification task",
            }[fault],
            "tasks_in_flight": in_flight,
            "status_while_worker_down": held,
            "status_after": status,
            "activations": counted.get("scheduled->active", 0),
            "transitions": dict(counted),
            "audit_gaps": audit_gaps(stack, event_id),
            "notifications_expected": expected,
            "notifications_accepted": accepted,
            "notifications_cut_off": receiver.cut_off - cut_before,
            "notifications_lost": max(0, expected - accepted),
            "notifications_duplicated": max(0, accepted - expected),
            "recovery_s": round(waited, 1) if waited is not None else None,
            "notifications_done_s": round(delivered_s, 1),
        }
        figures[fault] = result
        if (
            result["activations"] != 1
            or status != "active"
            or waited is None
            or result["audit_gaps"]
            or accepted != expected
        ):
            raise DrillFailed(f"celery worker {fault}: {result} (since {resumed:.0f})")
    return figures


# --- the whole drill -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    devices: int
    duplicate_posts: int
    threads: int
    outage_s: float
    event_start_in_s: float


SHORT = Plan(devices=20, duplicate_posts=200, threads=6, outage_s=4, event_start_in_s=2)
LONG = Plan(devices=200, duplicate_posts=2000, threads=16, outage_s=20, event_start_in_s=5)


def run(root: Path, plan: Plan, *, only: set[str] | None = None, report=print) -> dict:
    """Start a private stack under `root`, run every drill on it, return their figures."""
    stack = Stack(root)
    receiver = NotificationReceiver()
    results: dict = {}
    try:
        started = time.monotonic()
        stack.start()
        world_path = root / "world.json"
        subprocess.run(
            [sys.executable, "-m", "tests.drills.world", "build", str(plan.devices),
             str(world_path)],
            cwd=ROOT, env={**stack.env(), "DRILL_NOTIFY_URL": receiver.url}, check=True,
            timeout=600,
        )  # fmt: skip
        world = json.loads(world_path.read_text())
        stack.nginx_start(world["pki"])
        report(f"stack up with {plan.devices} devices in {time.monotonic() - started:.0f} s")
        drills = {
            "duplicate_readings": lambda: duplicate_readings(
                stack, world, posts=plan.duplicate_posts, threads=plan.threads
            ),
            "celery_worker": lambda: celery_worker_faults(
                stack, world, world_path, receiver, start_in_s=plan.event_start_in_s
            ),
            "postgres_restart": lambda: postgres_restart(
                stack, world, mirrors_of(stack), outage_s=plan.outage_s, threads=plan.threads
            ),
            "redis_restart": lambda: redis_restart(
                stack, world, mirrors_of(stack), outage_s=plan.outage_s, threads=plan.threads
            ),
            "asgi_worker_kill": lambda: asgi_worker_kill(
                stack, world, mirrors_of(stack), threads=plan.threads
            ),
        }
        for name, drill in drills.items():
            if only and name not in only:
                continue
            if name != "duplicate_readings" and "duplicate_readings" not in results:
                mirrors(stack, Client(stack, world), world)
                results["duplicate_readings"] = "skipped (mirrors created)"
            t0 = time.monotonic()
            results[name] = drill()
            report(f"{name} ({time.monotonic() - t0:.0f} s): {json.dumps(results[name])}")
    finally:
        stack.close()
        receiver.close()
    return results


def mirrors_of(stack: Stack) -> dict[int, int]:
    with db(stack) as cursor:
        cursor.execute("SELECT end_device_id, id FROM protocol_mirrorusagepoint")
        return dict(cursor.fetchall())
