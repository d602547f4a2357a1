"""Helpers for the multi-node cluster end-to-end tests.

Standard library only (Debian's /usr/bin/python3); builds on vfharness.py
and chaoslib.py (which it does not change). It makes cluster certificates
(`vidflow cluster init-certs`, or the `openssl` CLI for rogue ones), runs a
coordinator (`vidflow serve --workers 0 --cluster-port ...`) on fixed ports
and a data directory that survive SIGKILL, runs worker nodes (`vidflow
worker --join ...`, optionally inside a network namespace), submits jobs
concurrently, waits for them, and reads the attempt ledger straight from the
coordinator's SQLite database (D/vidflow.db, table `attempts`).

"Processed once" means: for every job, exactly one ok ledger row per
(job, object version, series, step kind), and for a SUCCEEDED job one such
row for every step of the pipeline at its final version and series.

Deadlines here are correctness bounds ("this must happen at all"), never
performance assertions.
"""

import collections
import contextlib
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

ADMIN = ("admin", "admin")  # config/vidflow.conf's admin account
# Peer timeout of tests that do not measure failure detection: long, so a
# loaded machine that delays heartbeats cannot drop a healthy node (and fail
# a test on a worker_lost it is not about). Nodes killed or stopped close
# their connection, which is noticed at once whatever the timeout. Tests of
# heartbeat timeouts (e2e_cluster_netns, e2e_cluster_frozen) pass short
# ones.
LONG_TIMEOUT_MS = 30000
STUCK = ("AWAITING_UPLOAD", "SUBMITTED", "PROCESSING")
# Small inputs of several kinds; every one probes successfully.
CLIPS = ("h264_aac.mp4", "h264_only.mp4", "vp9_opus.webm", "audio_only.mp3")
CONTENT_TYPES = {".mp4": "video/mp4", ".webm": "video/webm",
                 ".mp3": "audio/mpeg", ".m4a": "audio/mp4"}


def wait_until(what, fn, deadline_s, interval_s=0.2):
    """Calls `fn()` until it returns something truthy (returned) or the
    deadline passes (AssertionError naming `what` and the last value)."""
    end = time.monotonic() + deadline_s
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, AssertionError) as e:
            last = e
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline_s:g}s "
                                 f"(last: {last!r})"[:2000])
        time.sleep(interval_s)


# --- certificates -----------------------------------------------------------------


class Certs:
    """A directory written by `vidflow cluster init-certs`: ca.pem, ca.key
    and <node>.pem / <node>.key per node."""

    def __init__(self, binary, directory=None):
        self.binary = binary
        self.dir = directory or os.path.join(
            tempfile.mkdtemp(prefix="certs-", dir=h.scratch_dir()), "certs")

    @property
    def ca(self):
        return os.path.join(self.dir, "ca.pem")

    def pem(self, node):
        return os.path.join(self.dir, f"{node}.pem")

    def key(self, node):
        return os.path.join(self.dir, f"{node}.key")

    @property
    def admin_secret(self):
        """The operators' secret init-certs writes (drain/leave any node)."""
        return os.path.join(self.dir, "admin.secret")

    @property
    def ingest_secret(self):
        """The ingestion nodes' secret init-certs writes."""
        return os.path.join(self.dir, "ingest.secret")

    def admin_args(self):
        """--cluster-admin-key for the coordinator and operators' commands;
        none if this CA directory has no admin secret."""
        if os.path.isfile(self.admin_secret):
            return ["--cluster-admin-key", self.admin_secret]
        return []

    def make(self, *nodes, days=None, backdate_days=None, force=False):
        """Runs init-certs for `nodes` (reusing the CA if there is one)."""
        argv = [self.binary, "cluster", "init-certs", "--dir", self.dir,
                "--nodes", ",".join(nodes)]
        if days is not None:
            argv += ["--days", str(days)]
        if backdate_days is not None:
            argv += ["--backdate-days", str(backdate_days)]
        if force:
            argv.append("--force")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {r.returncode}:\n"
                                 f"{r.stdout}{r.stderr}")
        for node in nodes:
            if not (os.path.isfile(self.pem(node))
                    and os.path.isfile(self.key(node))):
                raise AssertionError(f"init-certs wrote no {node}.pem/.key "
                                     f"in {self.dir}:\n{r.stdout}{r.stderr}")
        return self

    def args(self, node, ca=None, pem=None, key=None):
        """--cluster-ca/--cluster-cert/--cluster-key for `node`; any of the
        three files can be replaced (rogue certificates)."""
        return ["--cluster-ca", ca or self.ca,
                "--cluster-cert", pem or self.pem(node),
                "--cluster-key", key or self.key(node)]


def self_signed(directory, name, days=30):
    """A self-signed EC P-256 certificate and key made by the openssl CLI
    (not signed by any cluster CA); returns (pem, key)."""
    os.makedirs(directory, exist_ok=True)
    pem = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    argv = ["openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={name}", "-days", str(days),
            "-addext", f"subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1",
            "-keyout", key, "-out", pem]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl req failed: {r.stderr}")
    return pem, key


def cert_dates(pem):
    """openssl's notBefore/notAfter line pair for a certificate."""
    r = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-dates",
                        "-issuer", "-subject"],
                       capture_output=True, text=True, timeout=30)
    return " ".join(r.stdout.split())


# --- the coordinator ----------------------------------------------------------------


class Coordinator:
    """`vidflow serve --workers 0` with a cluster port, on fixed ports and a
    data directory that survive SIGKILL: `kill()` then `start()` brings it
    back as the same coordinator."""

    def __init__(self, binary, certs, pipeline="sleep,probe,summarize",
                 sleep_ms=150, heartbeat_ms=500, timeout_ms=LONG_TIMEOUT_MS,
                 cluster_host="127.0.0.1", store_host=None, object_url=None,
                 public_url=None, store_port=None, extra_args=()):
        self.binary = binary
        self.certs = certs
        self.pipeline = pipeline.split(",")
        self.http_port = h.free_port()
        self.store_port = store_port or h.free_port()
        self.cluster_port = h.free_port()
        self.cluster_host = cluster_host
        self.data_dir = tempfile.mkdtemp(prefix="coordinator-",
                                         dir=h.scratch_dir())
        self.db_path = os.path.join(self.data_dir, "vidflow.db")
        self.base = f"http://127.0.0.1:{self.http_port}"
        args = ["--cluster-port", str(self.cluster_port),
                "--cluster-host", cluster_host,
                *certs.args("coordinator"), *certs.admin_args(),
                "--cluster-heartbeat-ms", str(heartbeat_ms),
                "--cluster-timeout-ms", str(timeout_ms),
                "--pipeline", pipeline, "--sleep-ms", str(sleep_ms),
                # Long enough that a presigned URL outlives any restart.
                "--presign-expires", "3600"]
        if store_host:
            args += ["--store-host", store_host]
        if object_url:
            args += ["--cluster-object-url", object_url]
        if public_url:
            args += ["--public-url", public_url]
        self.args = args + list(extra_args)
        self.server = None
        self.runs = []
        self.kills = 0
        # Per run: start and end (Unix ms), killed or not (effects_verdict).
        self.history = []
        self._admin = None

    def join_address(self, host="127.0.0.1"):
        return f"{host}:{self.cluster_port}"

    def start(self):
        started = cl.now_ms()
        self.server = h.Server(self.binary, extra_args=self.args,
                               data_dir=self.data_dir,
                               http_port=self.http_port,
                               store_port=self.store_port, workers=0,
                               name=f"coordinator-run{len(self.runs)}",
                               start_deadline_s=60)
        self.runs.append(self.server)
        # /healthz answers before the cluster port is open: wait for the
        # ready line, which comes after it, so that a coordinator that
        # could not open its cluster port fails here, with its log.
        self._wait_ready(60)
        self.history.append({"start_ms": started, "end_ms": None,
                             "killed": False})
        return self

    def _wait_ready(self, deadline_s):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if "vidflow ready" in self.server.log_text():
                return
            if self.server.poll() is not None:
                raise AssertionError(
                    f"coordinator exited with {self.server.poll()} during "
                    f"start-up\n--- log tail ---\n{self.server.log_tail()}")
            time.sleep(0.05)
        raise AssertionError(f"coordinator not ready within {deadline_s}s"
                             f"\n--- log tail ---\n{self.server.log_tail()}")

    def kill(self):
        """SIGKILL (no chance to clean up) and reap."""
        rc = self.server.stop(signal.SIGKILL, deadline_s=10)
        self.kills += 1
        self.history[-1].update(end_ms=cl.now_ms(), killed=True)
        return rc

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            rc = self.server.stop()
            self.history[-1]["end_ms"] = cl.now_ms()
            return rc
        return None

    def alive(self):
        return self.server is not None and self.server.poll() is None

    def log_text(self):
        return "\n".join(run.log_text() for run in self.runs)

    # -- HTTP --------------------------------------------------------------------

    def client(self, user="demo", password="demo"):
        c = h.Client(self.base)
        r = cl.retrying(lambda: c.call("POST", "/auth/login",
                                       {"username": user,
                                        "password": password}, token=""),
                        f"login {user}", cl.Retries(), deadline_s=60)
        if r.status != 200:
            raise AssertionError(f"login as {user} failed: {r!r}")
        c.token = r.json()["access_token"]
        return c

    def admin(self):
        if self._admin is None:
            self._admin = self.client(*ADMIN)
        return self._admin

    def nodes(self):
        """GET /cluster/nodes (as admin) → {name: node}."""
        r = self.admin().call("GET", "/cluster/nodes", timeout=10)
        if r.status != 200:
            raise AssertionError(f"GET /cluster/nodes → {r!r}")
        body = r.json()
        if not isinstance(body.get("nodes"), list):
            raise AssertionError(f"GET /cluster/nodes: unexpected shape "
                                 f"{str(body)[:300]}")
        return {n["name"]: n for n in body["nodes"]}

    def wait_nodes(self, what, pred, deadline_s=60):
        """Polls /cluster/nodes until `pred(nodes)`; returns the nodes."""
        box = {}

        def check():
            box["nodes"] = self.nodes()
            return pred(box["nodes"])
        try:
            wait_until(what, check, deadline_s)
        except AssertionError as e:
            raise AssertionError(f"{e}; /cluster/nodes: "
                                 f"{json.dumps(box.get('nodes'))}"[:2000])
        return box["nodes"]

    def healthz(self):
        return h.request("GET", self.base + "/healthz", timeout=5).status

    # -- the database ------------------------------------------------------------

    def db(self):
        # Read-only; WAL lets us read while the coordinator writes.
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                               timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def status_counts(self):
        """Counter status → jobs, read from the job table."""
        with contextlib.closing(self.db()) as conn:
            return collections.Counter(
                {r[0]: r[1] for r in conn.execute(
                    "SELECT status, count(*) FROM jobs GROUP BY status")})

    def ok_steps(self):
        """Ledger rows with ok=1 so far (steps done, any job)."""
        with contextlib.closing(self.db()) as conn:
            return conn.execute(
                "SELECT count(*) FROM attempts WHERE ok = 1").fetchone()[0]

    def ledger(self):
        """Every attempt row (without its output), oldest first."""
        with contextlib.closing(self.db()) as conn:
            return [dict(r) for r in conn.execute(
                "SELECT id, job_id, lease_id, object_version, series, kind, "
                "attempt, ok, error_code, error_message, worker, finished_at "
                "FROM attempts ORDER BY id")]


# --- worker nodes -------------------------------------------------------------------


class WorkerNode:
    """`vidflow worker --join ...`; `netns` runs it inside a network
    namespace (`ip netns exec`, which execs, so the PID is vidflow's)."""

    def __init__(self, binary, name, join, cert_args, slots=2,
                 heartbeat_ms=500, timeout_ms=LONG_TIMEOUT_MS, reconnect_max_ms=2000,
                 netns=None, extra_args=()):
        self.binary = binary
        self.name = name
        self.data_dir = tempfile.mkdtemp(prefix=f"worker-{name}-",
                                         dir=h.scratch_dir())
        argv = [binary, "worker", "--join", join, "--name", name,
                "--slots", str(slots), "--data-dir", self.data_dir,
                *cert_args,
                "--cluster-heartbeat-ms", str(heartbeat_ms),
                "--cluster-timeout-ms", str(timeout_ms),
                "--reconnect-max-ms", str(reconnect_max_ms),
                *extra_args]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.argv = argv
        self.proc = None
        self.runs = []

    def start(self):
        self.proc = h.Process(f"worker-{self.name}", self.argv)
        self.runs.append(self.proc)
        return self

    def kill(self):
        return self.proc.stop(signal.SIGKILL, deadline_s=10)

    def stop(self, deadline_s=60):
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.stop(signal.SIGTERM, deadline_s=deadline_s)
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        return "\n".join(p.log_text() for p in self.runs)

    def log_counts(self):
        """What the node's log says happened, as a Counter."""
        text = self.log_text()
        c = collections.Counter()
        c["registered"] = len(re.findall(r"registered \d+ workers with the "
                                         r"coordinator", text))
        c["lost the coordinator"] = text.count("lost the coordinator")
        c["cannot reach"] = text.count("cannot reach the coordinator")
        c["refused"] = len(re.findall(r"the coordinator refused", text))
        for m in re.finditer(r"re-reported (\d+) recent results.*?(\d+) were "
                             r"new to it", text):
            c["re-reported"] += int(m.group(1))
            c["re-reported, new"] += int(m.group(2))
        return c


# --- jobs ---------------------------------------------------------------------------


class Submitted:
    """One job the test created and uploaded."""

    def __init__(self, index, clip):
        self.index = index
        self.clip = clip
        self.job_id = None
        self.version = None


def submit_jobs(client, n, clips=CLIPS, threads=8, tag="cluster",
                retries=None):
    """Creates `n` jobs and uploads a small clip to each, from a thread pool;
    POST and PUT are retried through connection errors and 502/503/504."""
    retries = retries or cl.Retries()
    data = {name: h.read_bytes(h.clip(name)) for name in clips}

    def one(i):
        st = Submitted(i, clips[i % len(clips)])
        ctype = CONTENT_TYPES[os.path.splitext(st.clip)[1]]
        body = {"filename": f"{tag}-{i:03d}-{st.clip}", "content_type": ctype}
        r = cl.retrying(lambda: client.call("POST", "/jobs", body),
                        "POST /jobs", retries, deadline_s=120)
        if r.status != 201:
            raise AssertionError(f"POST /jobs {body} → {r!r}")
        job = r.json()
        st.job_id = job["job_id"]
        r = cl.retrying(lambda: h.upload(job["upload_url"], data[st.clip],
                                         ctype), "PUT", retries,
                        deadline_s=120)
        if r.status != 200:
            raise AssertionError(f"PUT {job['upload_url']} → {r!r}")
        st.version = r.headers.get("x-amz-version-id")
        return st

    return h.run_parallel(one, range(n), max_workers=threads)


def wait_progress(coord, at_least, deadline_s=120):
    """Waits until the ledger holds `at_least` ok steps (read from the
    coordinator's database; jobs finish late when every step is queued
    behind the sleeps, so steps are the better measure of "mid-run");
    returns (ok steps, job status counts)."""
    def check():
        n = coord.ok_steps()
        return (n, coord.status_counts()) if n >= at_least else None
    return wait_until(f"{at_least} steps done", check, deadline_s,
                      interval_s=0.05)


def wait_terminal(client, jobs, deadline_s=180, retries=None):
    """Polls GET /jobs/{id} (retrying through a coordinator that is down)
    until every job is terminal or the deadline passes; returns
    {job_id: last job seen}."""
    retries = retries or cl.Retries()
    last = {}
    pending = [s.job_id for s in jobs]
    end = time.monotonic() + deadline_s
    while pending and time.monotonic() < end:
        still = []
        for jid in pending:
            try:
                r = client.call("GET", f"/jobs/{jid}", timeout=10)
            except (OSError, http.client.HTTPException) as e:
                retries.add("GET /jobs/{id}", type(e).__name__)
                still.append(jid)
                continue
            if r.status != 200:
                retries.add("GET /jobs/{id}", f"HTTP {r.status}")
                still.append(jid)
                continue
            job = r.json()
            last[jid] = job
            if job["status"] not in h.TERMINAL:
                still.append(jid)
        pending = still
        if pending:
            time.sleep(0.5)
    return last


# --- the verdict ----------------------------------------------------------------------


def node_of(worker):
    """'w1/worker-2' → 'w1'."""
    return (worker or "").split("/")[0]


class LedgerReport:
    """What the attempt ledger says about a run."""

    def __init__(self, rows, jobs, final, kinds):
        self.rows = rows
        self.problems = []
        mine = {s.job_id for s in jobs}
        rows = [r for r in rows if r["job_id"] in mine]
        self.ok_by_node = collections.Counter(
            node_of(r["worker"]) for r in rows if r["ok"])
        self.failed = collections.Counter(
            (node_of(r["worker"]), r["error_code"]) for r in rows
            if not r["ok"])
        self.lost = [r for r in rows if not r["ok"]
                     and r["error_code"] == "worker_lost"]
        groups = collections.defaultdict(list)
        for r in rows:
            if r["ok"]:
                groups[(r["job_id"], r["object_version"], int(r["series"]),
                        r["kind"])].append(r)
        self.groups = groups
        self.duplicates = {k: v for k, v in groups.items() if len(v) > 1}
        for (jid, ver, series, kind), rs in self.duplicates.items():
            self.problems.append(
                f"job {jid}: step {kind} recorded ok {len(rs)} times for "
                f"version {ver} series {series}: by "
                f"{[r['worker'] for r in rs]} (leases "
                f"{[r['lease_id'] for r in rs]})")
        for s in jobs:
            job = final.get(s.job_id)
            if not job or job["status"] != "SUCCEEDED":
                continue
            ver = (job.get("object") or {}).get("version")
            series = int(job.get("series") or 0)
            for kind in kinds:
                n = len(groups.get((s.job_id, ver, series, kind), ()))
                if n != 1:
                    self.problems.append(
                        f"job {s.job_id} SUCCEEDED with {n} ok '{kind}' "
                        f"entries for version {ver} series {series}, "
                        f"expected 1")

    def finished_elsewhere(self, lost_row):
        """The ok row that did the step of a lost lease, or None."""
        rs = self.groups.get((lost_row["job_id"], lost_row["object_version"],
                              int(lost_row["series"]), lost_row["kind"]), ())
        return rs[0] if rs else None


def lost_lease_problems(rep, victim, how):
    """Problems with the leases of node `victim` after it was `how` (e.g.
    "cut off"): it must have lost some (worker_lost in the ledger), each
    must have been done by another node, and no other node lost any.
    Returns (problems, the victim's lost rows)."""
    problems = []
    lost = [r for r in rep.lost if node_of(r["worker"]) == victim]
    if not lost:
        problems.append(f"{victim} was {how} with leases in flight, yet the "
                        f"ledger has no worker_lost failure for it "
                        f"(failures: {fmt_counter(rep.failed)})")
    for r in lost:
        done = rep.finished_elsewhere(r)
        if done is None or node_of(done["worker"]) == victim:
            problems.append(f"job {r['job_id']}: lost {r['kind']} lease "
                            f"{r['lease_id']} not done by another node "
                            f"({done and done['worker']})")
    others = [r for r in rep.lost if node_of(r["worker"]) != victim]
    if others:
        problems.append(f"worker_lost failures on nodes other than {victim}: "
                        f"{[(r['worker'], r['job_id']) for r in others]}")
    return problems, lost


class Rejoin:
    """Phase two of a node-failure test: `victim` was cut off (or frozen)
    and is now restored. Waits for it in /cluster/nodes (registrations >= 2),
    then runs `count` more jobs and checks they all succeed once, some on
    the victim. `jobs`, `final` and `rep1` are phase one's; `final` gets the
    new jobs' states. Afterwards: problems, more (the new jobs), rows (the
    whole ledger), rep, rejoin_s, registrations, victim_again."""

    def __init__(self, coord, client, victim, jobs, final, rep1, count, tag,
                 retries, back_after, deadline_s=60):
        self.problems = []
        t0 = time.monotonic()
        self.rejoin_s = None
        self.registrations = None
        try:
            nodes = coord.wait_nodes(f"{victim.name} back after {back_after}",
                                     lambda ns: victim.name in ns,
                                     deadline_s=deadline_s)
            self.rejoin_s = time.monotonic() - t0
            self.registrations = nodes[victim.name]["registrations"]
            if self.registrations < 2:
                self.problems.append(
                    f"{victim.name} is back in /cluster/nodes with "
                    f"registrations={self.registrations}, expected >= 2 (its "
                    f"log: registered {victim.log_counts()['registered']} "
                    f"times)")
        except AssertionError as e:
            self.problems.append(str(e))
        self.more = []
        if self.rejoin_s is not None:
            self.more = submit_jobs(client, count, tag=tag, retries=retries)
            final2 = wait_terminal(client, self.more, deadline_s=180,
                                   retries=retries)
            self.problems += outcome_problems(self.more, final2)
            final.update(final2)
        self.rows = coord.ledger()
        self.rep = LedgerReport(self.rows, jobs + self.more, final,
                                coord.pipeline)
        self.problems += [p for p in self.rep.problems
                          if p not in rep1.problems]
        again = {s.job_id for s in self.more}
        ok_again = collections.Counter(node_of(r["worker"]) for r in self.rows
                                       if r["ok"] and r["job_id"] in again)
        self.victim_again = ok_again.get(victim.name, 0)
        if self.more and self.victim_again == 0:
            self.problems.append(f"{victim.name} ran none of the {count} jobs "
                                 f"submitted after {back_after} (ok by node: "
                                 f"{fmt_counter(ok_again)})")


def final_states(client, jobs, retries=None):
    """GET /jobs/{id} for every job (retried); {job_id: job}."""
    retries = retries or cl.Retries()
    out = {}
    for s in jobs:
        r = cl.retrying(lambda: client.call("GET", f"/jobs/{s.job_id}"),
                        "final GET", retries)
        if r.status != 200:
            raise AssertionError(f"GET /jobs/{s.job_id} → {r!r}")
        out[s.job_id] = r.json()
    return out


def effects_problems(coord, effects, jobs, allow_superseded):
    """The independent count of effects (chaoslib.effects_verdict) for
    `jobs`, against the coordinator's ledger and its runs."""
    ledgers = {s.job_id: [] for s in jobs}
    for r in coord.ledger():
        if r["job_id"] in ledgers:
            ledgers[r["job_id"]].append(dict(r, ok=bool(r["ok"])))
    problems, counts = cl.effects_verdict(effects.lines(), ledgers,
                                          coord.history, allow_superseded)
    if counts["steps recorded (ledger)"] == 0:
        problems.append("the effects check saw no recorded step")
    return problems, counts


def outcome_problems(jobs, final):
    """Every job must be SUCCEEDED (nothing lost, stuck or failed)."""
    problems = []
    for s in jobs:
        job = final.get(s.job_id)
        if job is None:
            problems.append(f"job {s.job_id} ({s.clip}): never seen")
        elif job["status"] != "SUCCEEDED":
            problems.append(f"job {s.job_id} ({s.clip}): {job['status']} "
                            f"(attempts {job.get('attempts')}, step "
                            f"{job.get('step')!r}, {job.get('error_code')}: "
                            f"{job.get('error_message')})")
    return problems


def metadata_problems(client, jobs, count=4):
    """The results of a few jobs (one per clip) agree with ffprobe."""
    problems = []
    seen = set()
    for s in jobs:
        if s.clip in seen or len(seen) >= count:
            continue
        seen.add(s.clip)
        r = cl.retrying(lambda: client.result(s.job_id), "GET result",
                        cl.Retries())
        if r.status != 200:
            problems.append(f"job {s.job_id}: GET result → {r!r}")
            continue
        meta = r.json().get("metadata") or {}
        if not meta.get("format") or not meta.get("streams"):
            problems.append(f"job {s.job_id} ({s.clip}): result metadata "
                            f"lacks format/streams: {str(meta)[:300]}")
            continue
        for p in cl.compare_metadata(meta, h.clip(s.clip)):
            problems.append(f"job {s.job_id} ({s.clip}): metadata: {p}")
    return problems, sorted(seen)


def print_summary(title, lines):
    print(f"\n  ===== {title} =====")
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        print(f"  {(k + ':').ljust(width)} {v}")
    sys.stdout.flush()


def fmt_counter(c):
    return ", ".join(f"{k}={v}" for k, v in sorted(c.items(), key=str)) or "-"
