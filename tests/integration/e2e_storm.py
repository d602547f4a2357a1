#!/usr/bin/python3
"""End-to-end: a storm of duplicate object events against one node.

    /usr/bin/python3 tests/integration/e2e_storm.py --binary build/vidflow [--seed N]

About 40 jobs are uploaded through the built-in store (each PUT's
x-amz-version-id noted); then every object's event is delivered 3–5 more
times to POST /minio/webhook in MinIO's shape, shuffled across jobs and sent
concurrently from a thread pool: some deliveries right after the upload
(while the job is still being processed), the rest after it finished.

Expected (the delivery rule: at-least-once hops, idempotent effects):
every job SUCCEEDED with one attempt; its attempt ledger
(GET /jobs/{id}/attempts) holds exactly one ok `probe` and one ok
`summarize` entry for its object version; each delivery is answered as a
duplicate; vidflow_object_events_total{outcome="duplicate"} rose by the
number of deliveries and {outcome="accepted"} by the number of uploads; no
result changed; and, counted outside the ledger (the node's effects log,
`--effects-log`, test only), each step was recorded once from a lease a
worker finished ok and no other ok execution happened unexplained.
Deadlines are correctness bounds, not performance checks.
"""

import collections
import concurrent.futures
import json
import random
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

SEED = cl.seed_from_argv()
JOBS = cl.pop_option("jobs", 40, int)


def events(metrics_text, outcome):
    return h.metric_value(metrics_text, "vidflow_object_events_total",
                          outcome=outcome)


class DuplicateStorm(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.effects = cl.EffectsLog("storm-effects")
        cls.server = h.Server(h.binary, extra_args=cls.effects.args())
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_duplicate_storm(self):
        rng = random.Random(SEED)
        videos = sorted(cl.SMALL_VIDEOS)
        for name in videos:
            cl.media(name)
        plan = [rng.choice(videos) for _ in range(JOBS)]
        m0 = self.c.metrics()

        lock = threading.Lock()
        deliveries = []          # (job id, phase, before_finish, response)
        first_results = {}
        problems = []

        def problem(text):
            with lock:
                problems.append(text)

        def upload(i):
            name = plan[i]
            job = self.c.create_job(f"storm {i:03d} {name}",
                                    cl.content_type(name))
            data = h.read_bytes(cl.media(name))
            r = h.upload(job["upload_url"], data, cl.content_type(name))
            if r.status != 200:
                raise AssertionError(f"PUT job {i}: {r!r}")
            return {"job": job, "name": name, "size": len(data),
                    "etag": r.headers["etag"].strip('"'),
                    "version": r.headers["x-amz-version-id"]}

        def deliver(item):
            up, phase = item
            jid = up["job"]["job_id"]
            body = h.minio_event(up["job"]["s3_bucket"], up["job"]["s3_key"],
                                 up["version"], up["etag"], up["size"])
            # Whether the job was still unfinished just before this delivery.
            unfinished = (phase == "early" and self.c.get_job(jid)["status"]
                          not in h.TERMINAL)
            r = self.c.webhook(body)
            with lock:
                deliveries.append((jid, phase, unfinished, r))
            return r

        # Uploads and the first deliveries of each object overlap: a job's
        # early deliveries are queued as soon as its PUT returned, shuffled
        # among the others' (out of order), while workers are busy.
        counts = [rng.randint(3, 5) for _ in range(JOBS)]
        early_n = [rng.randint(1, n - 1) for n in counts]
        with concurrent.futures.ThreadPoolExecutor(8) as up_pool, \
                concurrent.futures.ThreadPoolExecutor(16) as hook_pool:
            futures = {up_pool.submit(upload, i): i for i in range(JOBS)}
            ups = [None] * JOBS
            hook_futures = []
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                ups[i] = fut.result()
                batch = [(ups[i], "early")] * early_n[i]
                for item in batch:
                    hook_futures.append(hook_pool.submit(deliver, item))
            for f in hook_futures:
                f.result()

            # Wait for every job; note its first result.
            def wait(up):
                jid = up["job"]["job_id"]
                job = self.c.wait_status(jid, h.TERMINAL, deadline_s=180)
                if job["status"] == "SUCCEEDED":
                    r = self.c.result(jid)
                    if r.status == 200:
                        first_results[jid] = r.json()
                return job

            jobs_after_early = h.run_parallel(wait, ups, max_workers=8)

            # The rest of each object's deliveries, after it finished,
            # shuffled across jobs.
            late = []
            for i, up in enumerate(ups):
                late += [(up, "late")] * (counts[i] - early_n[i])
            rng.shuffle(late)
            list(hook_pool.map(deliver, late))

        time.sleep(1.0)  # give a wrongly started second run time to show
        m1 = self.c.metrics()
        total = sum(counts)
        before_finish = sum(1 for d in deliveries if d[2])
        print(f"\n  {JOBS} jobs, {total} webhook deliveries "
              f"({sum(early_n)} queued right after upload, "
              f"{before_finish} of them sent while the job was unfinished, "
              f"{total - sum(early_n)} after)", flush=True)

        # The storm is about deliveries racing the work: some must have.
        if before_finish == 0:
            problem(f"none of the {sum(early_n)} early deliveries arrived "
                    f"while its job was unfinished: the race this test is "
                    f"about never happened")
        # Every delivery is a duplicate of the claim the upload made.
        self.assertEqual(len(deliveries), total)
        answers = collections.Counter()
        for jid, phase, _, r in deliveries:
            if r.status != 200:
                problem(f"webhook ({phase}) for job {jid} → {r!r}")
                continue
            got = r.json()
            # The answer never says what became of a record (it would tell
            # whether a job exists); the metrics below count duplicates.
            answers[json.dumps(got, sort_keys=True)] += 1
            if got != {"received": 1}:
                problem(f"webhook ({phase}) for job {jid} answered {got}, "
                        'expected {"received": 1}')
        print(f"  webhook answers: {dict(answers)}")

        dup = events(m1, "duplicate") - events(m0, "duplicate")
        acc = events(m1, "accepted") - events(m0, "accepted")
        print(f"  metrics: duplicate +{dup:g} (expected +{total}), "
              f"accepted +{acc:g} (expected +{JOBS})")
        if dup != total:
            problem(f'vidflow_object_events_total{{outcome="duplicate"}} rose '
                    f"by {dup:g}, expected {total} (one per delivery)")
        if acc != JOBS:
            problem(f'vidflow_object_events_total{{outcome="accepted"}} rose '
                    f"by {acc:g}, expected {JOBS} (one per upload)")

        # Jobs: SUCCEEDED once, results unchanged, ledger without doubles.
        ledger_missing = None
        ledgers = {}            # job id → its attempt ledger
        for up, job0 in zip(ups, jobs_after_early):
            jid = up["job"]["job_id"]
            job = self.c.get_job(jid)
            what = f"job {jid} ({up['name']})"
            if job["status"] != "SUCCEEDED":
                problem(f"{what}: status {job['status']} "
                        f"({job.get('error_code')}: {job.get('error_message')})")
                continue
            if job["attempts"] != 1:
                problem(f"{what}: attempts {job['attempts']}, expected 1")
            obj = job.get("object") or {}
            if obj.get("version") != up["version"]:
                problem(f"{what}: object version {obj.get('version')}, "
                        f"uploaded {up['version']}")
            if job["updated_at"] != job0["updated_at"]:
                problem(f"{what}: updated_at changed after it finished "
                        f"({job0['updated_at']} → {job['updated_at']})")
            r = self.c.result(jid)
            if r.status != 200:
                problem(f"{what}: GET result → {r!r}")
            else:
                res = r.json()
                if first_results.get(jid) != res:
                    problem(f"{what}: result changed after the late "
                            f"deliveries")
                for p in cl.compare_metadata(res.get("metadata") or {},
                                             cl.media(up["name"])):
                    problem(f"{what}: metadata: {p}")
            if ledger_missing:
                continue
            try:
                items = cl.attempts(self.c, jid)
            except AssertionError as e:
                ledger_missing = str(e)
                problem(ledger_missing)
                continue
            ledgers[jid] = items
            ok = cl.ok_counts(items, up["version"])
            for kind in ("probe", "summarize"):
                if ok[kind] != 1:
                    problem(f"{what}: {ok[kind]} ok '{kind}' entries for "
                            f"version {up['version']}, expected 1; ledger: "
                            f"{json.dumps(items)[:600]}")
        # Independently of the ledger: no kill here, so every ok execution
        # is the recorded one or a lease handed back, and each step was
        # recorded once however often its event arrived.
        effect_problems, effect_counts = cl.effects_verdict(
            self.effects.lines(), ledgers,
            [{"start_ms": 0, "end_ms": None, "killed": False}])
        print(f"  effects log: {dict(sorted(effect_counts.items()))}")
        for p in effect_problems:
            problem(f"effects log: {p}")
        if effect_counts["steps recorded (ledger)"] == 0 and ledgers:
            problem("the effects check saw no recorded step")
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
