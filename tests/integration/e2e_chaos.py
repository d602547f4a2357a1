#!/usr/bin/python3
"""End-to-end chaos: kill -9 the node again and again while jobs flow.

    /usr/bin/python3 tests/integration/e2e_chaos.py --binary build/vidflow \\
        [--seed N] [--jobs 300] [--kills 6] [--spread 30] [--settle 180]

One `vidflow serve` with a data directory that survives restarts. 300 small
jobs (1 s H.264 clips and a couple of files that are no video) are submitted
and uploaded through their presigned URLs from a thread pool while a killer
thread sends SIGKILL at random moments (at least 5 times; uploads,
processing and result writes are all in flight at one time or another),
each time restarting the node on the same ports and data directory and
waiting for /healthz. Clients retry like real ones: POST /jobs and PUT
failures caused by a kill (connection refused/reset, 503) are retried with
backoff until they succeed (the presigned URL stays valid: long
--presign-expires).

Expected once the dust settles (bounded wait): every job whose upload got a
200 is SUCCEEDED (FAILED with bad_media/truncated for the non-video files):
none lost, none stuck in AWAITING_UPLOAD/SUBMITTED/PROCESSING; each job's
attempt ledger (GET /jobs/{id}/attempts) has exactly one ok entry per step
kind for its final object version and series (duplicate effects = 0); no
result changed after it was first seen, and each agrees with ffprobe of the
uploaded file. Independently of the ledger, the node appends every task its
workers finished and every ok step its ledger committed to an effects log
(`--effects-log`, test only): each step is recorded at most once there
too, from a lease a worker finished ok, and every other ok execution is
explained (its lease was handed back, or the node was killed before it
could record it). A summary (kills, lost jobs, duplicate effects, client
retries) is printed; the random seed is printed first, rerun with --seed.
"""

import collections
import concurrent.futures
import glob
import json
import os
import random
import re
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

SEED = cl.seed_from_argv()
JOBS = cl.pop_option("jobs", 300, int)
KILLS = cl.pop_option("kills", 6, int)
SETTLE_S = cl.pop_option("settle", 180, float)
CLIENT_THREADS = cl.pop_option("client-threads", 16, int)
# Jobs arrive in bursts at random moments over this many seconds; each kill
# lands at a random moment shortly after a burst began, while its uploads,
# processing and result writes are in flight.
SPREAD_S = cl.pop_option("spread", 30.0, float)

STUCK = ("AWAITING_UPLOAD", "SUBMITTED", "PROCESSING")
# A short first step keeps jobs in PROCESSING for a moment, so kills find
# work to resume (asserted below), not only uploads.
SLEEP_MS = cl.pop_option("sleep-ms", 60, int)
STEP_KINDS = ("sleep", "probe", "summarize")
# About one video in four also asks for media outputs (a render step after
# the others): a thumbnail and one small rendition, so kills land in encodes
# and output installs too.
RECIPE = {"thumbnails": ["small"], "renditions": ["240p"]}
RECIPE_SHARE = cl.pop_option("recipe-share", 0.25, float)


class JobState:
    """What one client knows about its job."""

    def __init__(self, index, name):
        self.index = index
        self.name = name
        self.phase = "queued"   # creating, uploading, uploaded, error
        self.job = None
        self.version = None     # of the PUT that got 200
        self.put_attempts = 0
        self.error = None
        self.last_status = None
        self.terminal = None    # first terminal GET /jobs/{id} seen
        self.first_result = None  # (object version, result) first seen
        self.recipe = False     # asks for RECIPE


def without_urls(result):
    """A result without its download URLs, which are presigned afresh on
    every read (everything else must never change)."""
    out = json.loads(json.dumps(result))
    for kind in ("thumbnails", "renditions"):
        for o in (out.get("outputs") or {}).get(kind, []):
            o.pop("url", None)
    return out


def check_outputs(client, retries, data_dir, jid, result):
    """Problems with a finished job's outputs: each listed output downloads
    with its size, and the store holds exactly one object per output made
    (no second copy under another name)."""
    problems = []
    outs = result.get("outputs")
    if not isinstance(outs, dict):
        return [f"no outputs in the result: {json.dumps(result)[:300]}"]
    want = set()
    for kind, ext in (("thumbnails", ".jpg"), ("renditions", ".mp4")):
        names = [o.get("name") for o in outs.get(kind, [])]
        if len(names) != 1:
            problems.append(f"{kind}: {names}, expected one entry")
        for o in outs.get(kind, []):
            if "skipped" in o:
                continue
            want.add(o["name"] + ext)
            r = cl.retrying(lambda: h.request("GET", o["url"]),
                            "GET output", retries)
            if r.status != 200 or len(r.body) != o.get("bytes"):
                problems.append(f"{o['name']}: GET → {r!r}, "
                                f"{len(r.body)} bytes, listed {o.get('bytes')}")
    folder = os.path.join(data_dir, "objects", "uploads", "outputs", jid)
    have = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    if have != want:
        problems.append(f"store holds {sorted(have)}, expected {sorted(want)}")
    return problems


class Chaos(unittest.TestCase):

    def test_kill9_while_jobs_flow(self):
        self.assertGreaterEqual(KILLS, 1)
        rng = random.Random(SEED)
        kill_rng = random.Random(rng.getrandbits(64))
        videos = sorted(cl.SMALL_VIDEOS)
        others = sorted(cl.NOT_VIDEOS)
        for name in videos + others:
            cl.media(name)
        # Roughly one input in twelve is no video.
        plan = [rng.choice(others) if rng.random() < 1 / 12
                else rng.choice(videos) for _ in range(JOBS)]
        states = [JobState(i, name) for i, name in enumerate(plan)]
        for st in states:
            st.recipe = (st.name in cl.SMALL_VIDEOS
                         and rng.random() < RECIPE_SHARE)
        bursts = KILLS + 2
        burst_at = [0.5 + b * SPREAD_S / bursts
                    + rng.uniform(0, SPREAD_S / bursts / 2)
                    for b in range(bursts)]
        starts = sorted(burst_at[rng.randrange(bursts)] + rng.uniform(0, 0.5)
                        for _ in range(JOBS))
        # One kill per burst after the first, at a random moment while it is
        # being uploaded and processed (a burst takes well under a second
        # on two cores).
        kill_at = [burst_at[k + 1] + kill_rng.uniform(0.05, 0.7)
                   for k in range(KILLS)]
        data = {name: h.read_bytes(cl.media(name)) for name in set(plan)}

        effects = cl.EffectsLog("chaos-effects")
        node = cl.Node(h.binary, extra_args=(
            "--presign-expires", "7200",
            "--pipeline", ",".join(STEP_KINDS), "--sleep-ms", str(SLEEP_MS))
            + effects.args())
        node.start()
        retries = cl.Retries()
        client = h.Client(node.base)
        cl.retrying(lambda: client.call("POST", "/auth/login",
                                        {"username": "demo",
                                         "password": "demo"}, token=""),
                    "login", retries)
        client.login()
        t0 = time.monotonic()
        lock = threading.Lock()
        kills = []              # what was in flight at each kill
        all_uploaded = threading.Event()
        abort = threading.Event()

        def elapsed():
            return time.monotonic() - t0

        def snapshot():
            with lock:
                phases = collections.Counter(s.phase for s in states)
            # What the server says about the newest jobs right now.
            seen = collections.Counter()
            try:
                r = client.call("GET", "/history?limit=100", timeout=0.5)
                if r.status == 200:
                    seen.update(it["status"] for it in r.json()["items"])
            except (OSError, ValueError, KeyError):
                seen["(no answer)"] = 1
            return phases, seen

        # --- the killer ---------------------------------------------------
        def killer():
            try:
                healthy = 0.0
                for k, planned in enumerate(kill_at):
                    # At the planned moment, but never before the node has
                    # been up for a moment (recovery work is in flight then).
                    when = max(planned, healthy + kill_rng.uniform(0.3, 1.0))
                    if abort.wait(max(0.0, when - elapsed())):
                        return
                    phases, seen = snapshot()
                    at = elapsed()
                    node.kill()
                    info = {"at": at, "phases": dict(phases),
                            "seen": dict(seen)}
                    kills.append(info)
                    print(f"  kill #{k + 1} at t={at:6.2f}s: client: POST "
                          f"/jobs {phases.get('creating', 0)} and PUT "
                          f"{phases.get('uploading', 0)} in flight, "
                          f"{phases.get('uploaded', 0)}/{JOBS} uploaded; "
                          f"server (newest 100 jobs): "
                          f"{dict(sorted(seen.items()))}", flush=True)
                    down = kill_rng.uniform(0.0, 1.0)
                    time.sleep(down)
                    node.start()
                    healthy = elapsed()
                    print(f"           restarted after {down:.2f}s down; "
                          f"healthy at t={healthy:6.2f}s", flush=True)
            except BaseException as e:  # noqa: BLE001 — reported below
                kills.append({"error": repr(e)})
                abort.set()

        # --- the clients --------------------------------------------------
        def run_job(st):
            if abort.wait(max(0.0, starts[st.index] - elapsed())):
                return
            ctype = cl.content_type(st.name)
            with lock:
                st.phase = "creating"
            body = {"filename": f"chaos {st.index:03d} {st.name}",
                    "content_type": ctype}
            if st.recipe:
                body["outputs"] = RECIPE
            r = cl.retrying(lambda: client.call("POST", "/jobs", body),
                            "POST /jobs", retries, deadline_s=240)
            if r.status != 201:
                with lock:
                    st.phase, st.error = "error", f"POST /jobs → {r!r}"
                return
            job = r.json()
            with lock:
                st.job, st.phase = job, "uploading"

            def put():
                st.put_attempts += 1
                return h.upload(job["upload_url"], data[st.name], ctype,
                                timeout=60)

            r = cl.retrying(put, "PUT", retries, deadline_s=240)
            with lock:
                if r.status == 200:
                    st.version = r.headers.get("x-amz-version-id")
                    st.phase = "uploaded"
                else:
                    st.phase, st.error = "error", f"PUT → {r!r}"

        # --- the status poller ----------------------------------------------
        def poll_once(st):
            jid = st.job["job_id"]
            try:
                r = client.call("GET", f"/jobs/{jid}", timeout=10)
                if r.status != 200:
                    return
                job = r.json()
                with lock:
                    st.last_status = job["status"]
                if job["status"] not in h.TERMINAL:
                    return
                if job["status"] == "SUCCEEDED":
                    res = client.result(jid)
                    if res.status != 200:
                        return
                    version = (job.get("object") or {}).get("version")
                    with lock:
                        st.first_result = (version, without_urls(res.json()))
                with lock:
                    st.terminal = job
            except (OSError, ValueError, AssertionError):
                pass  # the node is down right now; next round

        def poller():
            while not abort.is_set():
                with lock:
                    todo = [s for s in states
                            if s.phase == "uploaded" and s.terminal is None]
                for st in todo:
                    poll_once(st)
                if all_uploaded.is_set() and not todo:
                    return
                time.sleep(0.3)

        kt = threading.Thread(target=killer, name="killer", daemon=True)
        pt = threading.Thread(target=poller, name="poller", daemon=True)
        print(f"\n  {JOBS} jobs ({sum(1 for n in plan if n in others)} "
              f"not video) submitted over {SPREAD_S:g}s by {CLIENT_THREADS} "
              f"client threads; kills planned at "
              f"{', '.join(f'{t:.1f}' for t in kill_at)} s", flush=True)
        kt.start()
        pt.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(CLIENT_THREADS) as pool:
                for f in [pool.submit(run_job, st) for st in states]:
                    f.result()
            uploads_done = elapsed()
            print(f"  all uploads answered at t={uploads_done:.2f}s",
                  flush=True)
            kt.join()
            if abort.is_set():
                self.fail(f"the killer failed: {kills[-1] if kills else ''}")
            all_uploaded.set()
            # Bounded wait for every uploaded job to finish.
            end = time.monotonic() + SETTLE_S
            while pt.is_alive() and time.monotonic() < end:
                pt.join(1.0)
            settled = elapsed()
        finally:
            abort.set()  # stops the poller (and the killer) if still running
            kt.join(30)
            pt.join(30)
        if not node.alive():
            node.start()
        # What each restart found (the logs of the runs after a kill).
        found = collections.Counter()
        for run in node.runs[1:]:
            text = run.log_text()
            for pattern, key in (
                    (r"resumed (\d+) unfinished", "jobs resumed"),
                    (r"discarded (\d+) partial upload", "partial uploads discarded"),
                    (r"announcing (\d+) stored object", "uploads re-announced"),
                    (r"discarded (\d+) announcement marker", "stale markers"),
                    (r"discarded (\d+) unfinished render", "render work folders discarded")):
                for m in re.finditer(pattern, text):
                    found[key] += int(m.group(1))

        # --- the verdict ----------------------------------------------------
        problems = []
        lost, wrong, dup_effects, changed, ledger_missing = [], [], 0, [], None
        rendered = 0
        version_moved = 0
        ledgers = {}            # job id → its attempt ledger
        multi_version = 0   # jobs processed for more than one upload
        uploaded = [s for s in states if s.phase == "uploaded"]
        for st in states:
            if st.phase != "uploaded":
                problems.append(f"job #{st.index} ({st.name}): client never "
                                f"got its upload through: {st.error}")
        for st in uploaded:
            jid = st.job["job_id"]
            what = f"job {jid} ({st.name})"
            r = cl.retrying(lambda: client.call("GET", f"/jobs/{jid}"),
                            "final GET", retries)
            if r.status != 200:
                lost.append(f"{what}: GET → {r!r}")
                continue
            job = r.json()
            status = job["status"]
            is_video = st.name in cl.SMALL_VIDEOS
            if status in STUCK or status not in h.TERMINAL:
                lost.append(f"{what}: stuck in {status} (attempts "
                            f"{job.get('attempts')}, step {job.get('step')}, "
                            f"next {job.get('next_attempt_at')})")
                continue
            if is_video and status != "SUCCEEDED":
                wrong.append(f"{what}: {status} ({job.get('error_code')}: "
                             f"{job.get('error_message')})")
            if not is_video and (status != "FAILED" or job.get("error_code")
                                 not in ("bad_media", "truncated")):
                wrong.append(f"{what}: not a video, yet {status} "
                             f"({job.get('error_code')})")
            version = (job.get("object") or {}).get("version")
            if version != st.version:
                version_moved += 1
            # Results: agree with ffprobe, unchanged since first seen.
            if status == "SUCCEEDED":
                res = cl.retrying(lambda: client.result(jid), "final result",
                                  retries)
                if res.status != 200:
                    wrong.append(f"{what}: GET result → {res!r}")
                else:
                    body = res.json()
                    for p in cl.compare_metadata(body.get("metadata") or {},
                                                 cl.media(st.name)):
                        wrong.append(f"{what}: metadata: {p}")
                    if (st.first_result and st.first_result[0] == version
                            and st.first_result[1] != without_urls(body)):
                        changed.append(f"{what}: result changed after it was "
                                       f"first seen")
                    if st.recipe:
                        rendered += 1
                        wrong.extend(f"{what}: {p}" for p in check_outputs(
                            client, retries, node.data_dir, jid, body))
            # The ledger: one ok entry per step kind for the final version.
            if ledger_missing:
                continue
            try:
                items = cl.attempts(client, jid)
            except AssertionError as e:
                ledger_missing = str(e)
                continue
            ledgers[jid] = items
            # Duplicate effects: a step done twice for one object version in
            # one series, whichever version (not only the final one).
            groups = collections.Counter(
                (it.get("object_version"), int(it.get("series", 0)),
                 it.get("kind")) for it in items if it.get("ok") is True)
            extra = sum(n - 1 for n in groups.values() if n > 1)
            dup_effects += extra
            if extra:
                problems.append(f"{what}: duplicate effects "
                                f"{ {k: n for k, n in groups.items() if n > 1} }: "
                                f"{json.dumps(items)[:600]}")
            if len({v for v, _, _ in groups}) > 1:
                multi_version += 1
            ok = cl.ok_counts(items, version, job.get("series"))
            if status == "SUCCEEDED":
                for kind in STEP_KINDS + (("render",) if st.recipe else ()):
                    if ok[kind] != 1:
                        problems.append(f"{what}: {ok[kind]} ok '{kind}' "
                                        f"entries for version {version}, "
                                        f"expected 1: "
                                        f"{json.dumps(items)[:600]}")
        node.stop()
        # Work folders of renders the kills interrupted are gone (discarded
        # at the next start), and nothing half-installed is left.
        left = glob.glob(os.path.join(node.data_dir, "tmp", "render-*",
                                      "render-*"))
        if left:
            problems.append(f"render work folders left behind: {left[:5]}")
        effect_problems, effect_counts = cl.effects_verdict(
            effects.lines(), ledgers, node.history)

        print("\n  ===== chaos summary (seed %d) =====" % SEED)
        print(f"  kills survived:        {node.kills} "
              f"(restarts {node.starts - 1})")
        print(f"  jobs:                  {JOBS}, uploads answered 200: "
              f"{len(uploaded)}")
        print(f"  jobs lost or stuck:    {len(lost)}")
        print(f"  wrong outcomes:        {len(wrong)}")
        print(f"  duplicate effects:     "
              f"{'unknown (no ledger route)' if ledger_missing else dup_effects}")
        print(f"  results changed:       {len(changed)}")
        print(f"  jobs with outputs:     {rendered} succeeded, each output "
              f"downloaded and stored exactly once")
        print(f"  effects log:           {dict(sorted(effect_counts.items()))}")
        print(f"  client retries:        {retries.summary()}")
        print(f"  PUTs sent:             "
              f"{sum(s.put_attempts for s in states)} for {JOBS} jobs")
        print(f"  final version differs from the 200'd PUT's: {version_moved}")
        print(f"  jobs processed for more than one uploaded version (a kill "
              f"ate the 200, the client re-uploaded): {multi_version}")
        print(f"  after the restarts:    "
              f"{dict(found) or 'nothing to resume'}")
        print(f"  uploads done at t={uploads_done:.1f}s, settled at "
              f"t={settled:.1f}s")
        problems = lost + wrong + changed + problems + effect_problems
        if RECIPE_SHARE > 0 and rendered == 0:
            problems.append("no job with outputs succeeded: the render "
                            "checks above checked nothing")
        if effect_counts["steps recorded (ledger)"] == 0:
            problems.append("the effects check saw no recorded step")
        if ledger_missing:
            problems.append(ledger_missing)
        if node.kills < min(KILLS, 5):
            problems.append(f"only {node.kills} kills happened")
        # The test is named after recovery: prove the kills hit work in
        # progress (the 60 ms sleep step keeps jobs in PROCESSING, so every
        # run resumes dozens). Whether a kill also lands inside an upload's
        # body or between its commit and its acknowledgement is timing (a
        # CI run saw no PUT in flight at any of its 6 kills); those paths
        # are proven deterministically in adapters.objectstore (crash
        # journal, re-announcement, a retry racing it) and are only printed
        # here.
        if found["jobs resumed"] == 0:
            problems.append(f"no restart resumed any job (found: "
                            f"{dict(found)}): the kills missed the work "
                            f"this test is about")
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s) (seed {SEED}):"] + problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
