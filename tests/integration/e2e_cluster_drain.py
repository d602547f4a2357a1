#!/usr/bin/python3
"""Cluster labels and graceful drains: a coordinator and three worker nodes.

    /usr/bin/python3 tests/integration/e2e_cluster_drain.py \\
        --binary build/vidflow [--jobs 40] [--sleep-ms 300] [--keep]

`vidflow serve --workers 0 --pipeline sleep,probe,summarize --step-labels
sleep:gpu` and three `vidflow worker` nodes with 2 slots each: w1 and w2
labelled gpu, w3 without labels (it may run probe and summarize, never
sleep).

Batch 1 (40 jobs): mid-run, `vidflow worker --drain --name w1
--cluster-admin-key admin.secret` (an operator's command) is run from
outside (an 'admin' certificate from the same CA). While it runs,
/cluster/nodes shows w1 `draining: true`; it prints "node w1: N leased
task(s) left" (N: what w1 held then, which the attempt ledger must
agree with) and exits 0 with "drained; told it to
leave"; the w1 process then leaves by itself (exit 0) and drops out of
/cluster/nodes. w1 has no worker_lost attempt and none of its attempts
was leased to it after the drain took effect (the ledger's `leased_at`,
stamped by the coordinator's dispatcher, against the time the first
progress line appeared: same clock, no margin). `--drain --name nosuchnode` exits non-zero saying there is no such
node.

Batch 2 (40 jobs): a new gpu node w1b joins; mid-run w2 gets SIGTERM while
it holds leases (one of its attempts ends after the signal): it exits 0,
has no worker_lost attempt, and w1b and w3 finish the rest.

Drain timeout: a node with `--drain-timeout-s 1` gets SIGTERM while it
holds two 8 s steps. It leaves after the timeout (exit 0, "tasks still
leased after the drain timeout"), records no ok step, its two leases end
`worker_lost` and a node that joins afterwards finishes both jobs.

For both batches: every `sleep` attempt ran on a gpu node (w1, w2, w1b),
w3 ran probe/summarize steps, no worker_lost anywhere, every job SUCCEEDED
and each step was recorded ok exactly once (attempt ledger).
"""

import collections
import contextlib
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402

JOBS = cl.pop_option("jobs", 40, int)
SLEEP_MS = cl.pop_option("sleep-ms", 300, int)
SLOTS = 2
# Steps of the drain-timeout test: far longer than its 1 s drain timeout.
TIMEOUT_SLEEP_MS = 8000
GPU = ("w1", "w2")
NODES = ("w1", "w2", "w3")


def now_ms():
    return int(time.time() * 1000)


def attempts(coord, jobs):
    """Ledger rows of `jobs`; `leased_at` (Unix ms) is when the dispatcher
    gave the attempt to its worker."""
    mine = {s.job_id for s in jobs}
    with contextlib.closing(coord.db()) as conn:
        rows = [dict(r) for r in conn.execute(
            "SELECT id, job_id, lease_id, kind, ok, error_code, worker, "
            "finished_at, duration_us, leased_at FROM attempts ORDER BY id")]
    for r in rows:
        r["node"] = cx.node_of(r["worker"])
    return [r for r in rows if r["job_id"] in mine]


def brief(rows, n=8):
    return [f"{r['worker']} {r['kind']} ok={r['ok']} "
            f"leased={r['leased_at']} finished={r['finished_at']}"
            for r in rows[:n]]


class ClusterDrain(unittest.TestCase):

    def setUp(self):
        self.coord = None
        self.workers = {}
        self.commands = []

    def tearDown(self):
        for p in self.commands:
            p.kill_if_running()
        for w in self.workers.values():
            if w.alive():
                w.stop(deadline_s=20)
        if self.coord is not None:
            self.coord.stop()

    def add_worker(self, certs, name, labels=()):
        extra = ["--labels", ",".join(labels)] if labels else []
        w = cx.WorkerNode(h.binary, name, self.coord.join_address(),
                          certs.args(name), slots=SLOTS,
                          extra_args=extra).start()
        self.workers[name] = w
        return w

    def wait_registered(self, names):
        return self.coord.wait_nodes(
            f"nodes {names} registered",
            lambda ns: all(n in ns and ns[n]["workers"] == SLOTS
                           for n in names))

    def drain_command(self, certs, name, tag):
        argv = [h.binary, "worker", "--join", self.coord.join_address(),
                "--drain", "--name", name, *certs.args("admin"),
                *certs.admin_args()]
        p = h.Process(f"drain-{tag}", argv)
        self.commands.append(p)
        return p

    def label_problems(self, rows, gpu_nodes, problems):
        sleeps = collections.Counter(r["node"] for r in rows
                                     if r["kind"] == "sleep")
        bad = [r for r in rows if r["kind"] == "sleep"
               and r["node"] not in gpu_nodes]
        if bad:
            problems.append(f"{len(bad)} sleep attempt(s) on nodes without "
                            f"the gpu label: {brief(bad)}")
        other = collections.Counter(r["kind"] for r in rows
                                    if r["node"] == "w3" and r["ok"])
        if other["probe"] + other["summarize"] == 0:
            problems.append(f"w3 ran no probe/summarize step (ok steps by "
                            f"node: {cx.fmt_counter(collections.Counter(r['node'] for r in rows if r['ok']))})")
        return sleeps

    def test_labels_and_drains(self):
        # init-certs writes admin.pem/admin.key (the operators' client
        # certificate) with every CA.
        certs = cx.Certs(h.binary).make("coordinator", *NODES, "w1b")
        self.coord = cx.Coordinator(
            h.binary, certs, pipeline="sleep,probe,summarize",
            sleep_ms=SLEEP_MS, extra_args=["--step-labels", "sleep:gpu"])
        coord = self.coord.start()
        for n in NODES:
            self.add_worker(certs, n, ("gpu",) if n in GPU else ())
        nodes = self.wait_registered(NODES)
        problems = []
        for n in NODES:
            want = ["gpu"] if n in GPU else []
            if sorted(nodes[n]["labels"]) != want:
                problems.append(f"/cluster/nodes: {n} has labels "
                                f"{nodes[n]['labels']}, expected {want}")
        client = coord.client()
        retries = cl.Retries()
        t0 = time.monotonic()

        # --- batch 1: drain w1 from outside, mid-run --------------------------
        jobs1 = cx.submit_jobs(client, JOBS, tag="drain1", retries=retries)
        steps1, at_drain = cx.wait_progress(coord, 8)
        w1 = self.workers["w1"]
        drain = self.drain_command(certs, "w1", "w1")
        t_drain = time.monotonic()
        seen_draining = None
        first_line_ms = None
        polls = 0
        while drain.poll() is None and time.monotonic() - t_drain < 60:
            if first_line_ms is None and "leased task(s) left" in \
                    drain.log_text():
                first_line_ms = now_ms()
            if seen_draining is None:
                try:
                    ns = coord.nodes()
                    polls += 1
                    if ns.get("w1", {}).get("draining") is True:
                        seen_draining = time.monotonic() - t_drain
                except (OSError, AssertionError):
                    pass
            time.sleep(0.01)
        drain_rc = drain.stop(deadline_s=5)
        drained_ms = now_ms()
        drain_s = time.monotonic() - t_drain
        out = drain.log_text()
        print(f"  drain w1 at t={t_drain - t0:.1f}s ({steps1} steps done; "
              f"jobs {cx.fmt_counter(at_drain)}): rc={drain_rc} after "
              f"{drain_s:.2f}s: {' | '.join(out.splitlines())}", flush=True)
        left = [int(m) for m in
                re.findall(r"node w1: (\d+) leased task\(s\) left", out)]
        if drain_rc != 0:
            problems.append(f"--drain --name w1 exited {drain_rc}: {out!r}")
        if "node w1 drained; told it to leave" not in out:
            problems.append(f"--drain printed no 'node w1 drained; told it "
                            f"to leave': {out!r}")
        if not left or left[-1] != 0:
            problems.append(f"--drain progress lines {left}: expected "
                            f"counts falling to 0: {out!r}")
        if seen_draining is None:
            problems.append(f"/cluster/nodes never showed w1 draining:true "
                            f"while --drain ran ({polls} polls in "
                            f"{drain_s:.2f}s)")
        try:
            w1_rc = w1.proc.proc.wait(15)
        except subprocess.TimeoutExpired:
            w1_rc = None
        w1_exit_s = time.monotonic() - t_drain
        if w1_rc != 0:
            problems.append(f"w1 did not exit 0 by itself within 15 s of the "
                            f"drain (rc {w1_rc}; None: still running)")
        if "the coordinator drained this node; leaving" not in w1.log_text():
            problems.append("w1's log lacks 'the coordinator drained this "
                            "node; leaving'")
        try:
            coord.wait_nodes("w1 gone from /cluster/nodes",
                             lambda ns: "w1" not in ns, deadline_s=15)
        except AssertionError as e:
            problems.append(str(e))

        r = subprocess.run([h.binary, "worker", "--join",
                            coord.join_address(), "--drain", "--name",
                            "nosuchnode", *certs.args("admin"),
                            *certs.admin_args()],
                           capture_output=True, text=True, timeout=60)
        nosuch = " ".join((r.stdout + r.stderr).split())
        if r.returncode == 0 or "nosuchnode" not in nosuch or not \
                re.search(r"\bno (such )?node\b", nosuch):
            problems.append(f"--drain --name nosuchnode: rc {r.returncode}, "
                            f"expected non-zero and 'no such node': "
                            f"{nosuch!r}")

        final1 = cx.wait_terminal(client, jobs1, deadline_s=120,
                                  retries=retries)
        settled1 = time.monotonic() - t0
        problems += cx.outcome_problems(jobs1, final1)
        rep1 = cx.LedgerReport(coord.ledger(), jobs1, final1, coord.pipeline)
        problems += rep1.problems
        rows1 = attempts(coord, jobs1)
        on_w1 = [r for r in rows1 if r["node"] == "w1"]
        unstamped = [r for r in rows1 if r["leased_at"] <= 0]
        if unstamped:
            problems.append(f"{len(unstamped)} attempt(s) without a lease "
                            f"time: {brief(unstamped)}")
        late = [r for r in on_w1 if r["leased_at"] > drained_ms]
        if late:
            problems.append(f"{len(late)} attempt(s) leased to w1 after the "
                            f"drain finished at {drained_ms}: {brief(late)}")
        # The first count is what w1 held when the drain took effect: 0 only
        # if the ledger has no w1 attempt running then (w1 may be between
        # steps, e.g. on a slow ASan build once the sleep steps are done).
        running = [r for r in on_w1 if first_line_ms is not None
                   and r["leased_at"] <= first_line_ms
                   and (r["finished_at"] <= 0
                        or r["finished_at"] > first_line_ms)]
        if left and left[0] == 0 and running:
            problems.append(f"--drain said w1 held 0 leases, but the ledger "
                            f"has {len(running)} w1 attempt(s) running at "
                            f"its first line ({first_line_ms}): "
                            f"{brief(running)}")
        after_first = [r for r in on_w1 if first_line_ms is not None
                       and r["leased_at"] > first_line_ms]
        if after_first:
            problems.append(f"{len(after_first)} attempt(s) leased to w1 "
                            f"after the drain took effect (first progress "
                            f"line at {first_line_ms}): {brief(after_first)}")
        sleeps1 = self.label_problems(rows1, GPU, problems)
        for n in GPU:
            if sleeps1[n] == 0:
                problems.append(f"gpu node {n} ran no sleep step in batch 1 "
                                f"(sleep by node: {cx.fmt_counter(sleeps1)})")

        # --- batch 2: SIGTERM w2 mid-run; w1b (gpu) and w3 go on ------------
        self.add_worker(certs, "w1b", ("gpu",))
        self.wait_registered(("w1b", "w2", "w3"))
        base2 = coord.ok_steps()
        jobs2 = cx.submit_jobs(client, JOBS, tag="drain2", retries=retries)
        t2 = time.monotonic()
        steps2, at_term = cx.wait_progress(coord, base2 + 8)
        w2 = self.workers["w2"]
        term_ms = now_ms()
        t_term = time.monotonic()
        w2_rc = w2.stop(deadline_s=60)
        w2_exited_ms = now_ms()
        term_s = time.monotonic() - t_term
        print(f"  SIGTERM w2 at t={t_term - t0:.1f}s ({steps2} steps done; "
              f"jobs {cx.fmt_counter(at_term)}): rc={w2_rc} after "
              f"{term_s:.2f}s", flush=True)
        if w2_rc != 0:
            problems.append(f"w2 exited {w2_rc} after SIGTERM (None: killed "
                            f"after 60 s)")
        if "received SIGTERM: draining" not in w2.log_text():
            problems.append("w2's log lacks 'received SIGTERM: draining'")
        final2 = cx.wait_terminal(client, jobs2, deadline_s=120,
                                  retries=retries)
        settled2 = time.monotonic() - t2
        problems += cx.outcome_problems(jobs2, final2)
        rep2 = cx.LedgerReport(coord.ledger(), jobs2, final2, coord.pipeline)
        problems += rep2.problems
        rows2 = attempts(coord, jobs2)
        on_w2 = [r for r in rows2 if r["node"] == "w2"]
        held = [r for r in on_w2 if r["ok"] and r["leased_at"] < term_ms
                and r["finished_at"] > term_ms]
        if not held:
            problems.append(f"no w2 attempt was running across the SIGTERM "
                            f"at {term_ms} (w2 attempts: {len(on_w2)}, last: "
                            f"{brief(on_w2[-3:])})")
        late2 = [r for r in on_w2 if r["leased_at"] > w2_exited_ms]
        if late2:
            problems.append(f"{len(late2)} attempt(s) leased to w2 after it "
                            f"exited at {w2_exited_ms}: {brief(late2)}")
        sleeps2 = self.label_problems(rows2, ("w2", "w1b"), problems)
        if sleeps2["w1b"] == 0:
            problems.append(f"w1b ran no sleep step in batch 2 (sleep by "
                            f"node: {cx.fmt_counter(sleeps2)})")

        lost = [r for r in rows1 + rows2 if r["error_code"] == "worker_lost"]
        if lost:
            problems.append(f"{len(lost)} worker_lost attempt(s) though every "
                            f"node left gracefully: {brief(lost)}")
        exits = {"w1": w1_rc, "w2": w2_rc}
        for n in ("w1b", "w3"):
            exits[n] = self.workers[n].stop(deadline_s=60)
            if exits[n] != 0:
                problems.append(f"{n} exited {exits[n]} after SIGTERM")

        cx.print_summary("cluster: labels and drains", [
            ("jobs", f"2 x {JOBS} ({cx.fmt_counter(collections.Counter(j['status'] for j in list(final1.values()) + list(final2.values())))})"),
            ("batch 1", f"drain w1 at {steps1} steps; --drain took "
                        f"{drain_s:.2f}s, progress {left}; draining seen "
                        f"after {seen_draining if seen_draining is None else round(seen_draining, 2)}s; "
                        f"w1 exited {w1_rc} {w1_exit_s:.2f}s after the "
                        f"drain began; settled t={settled1:.1f}s"),
            ("batch 2", f"SIGTERM w2 at {steps2 - base2} steps of batch "
                        f"2; {len(held)} lease(s) across it; exit {w2_rc} "
                        f"after {term_s:.2f}s; settled {settled2:.1f}s"),
            ("sleep by node", f"batch 1: {cx.fmt_counter(sleeps1)}; "
                              f"batch 2: {cx.fmt_counter(sleeps2)}"),
            ("ok steps by node", f"batch 1: {cx.fmt_counter(rep1.ok_by_node)}; "
                                 f"batch 2: {cx.fmt_counter(rep2.ok_by_node)}"),
            ("failed attempts", cx.fmt_counter(rep1.failed + rep2.failed)),
            ("duplicate ok steps", sum(len(v) - 1 for v in
                                       list(rep1.duplicates.values())
                                       + list(rep2.duplicates.values()))),
            ("nosuchnode", f"rc {r.returncode}: {nosuch[:100]}"),
            ("client retries", retries.summary()),
            ("worker exits", cx.fmt_counter(exits)),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))

    def test_drain_timeout_leaves_and_hands_leases_on(self):
        """`worker.drain_timeout_s`: a node told to stop while its tasks run
        longer than the timeout leaves once it passed (exit 0), without
        waiting for them; the coordinator hands the leases on, another node
        finishes the jobs, and the leaving node records no ok step."""
        certs = cx.Certs(h.binary).make("coordinator", "w1", "w2")
        self.coord = cx.Coordinator(h.binary, certs, pipeline="sleep",
                                    sleep_ms=TIMEOUT_SLEEP_MS)
        coord = self.coord.start()
        w1 = cx.WorkerNode(h.binary, "w1", coord.join_address(),
                           certs.args("w1"), slots=SLOTS,
                           extra_args=["--drain-timeout-s", "1"]).start()
        self.workers["w1"] = w1
        self.wait_registered(("w1",))
        client = coord.client()
        jobs = cx.submit_jobs(client, SLOTS, tag="timeout")
        cx.wait_until("w1 holds a lease per slot",
                      lambda: h.metric_value(client.metrics(),
                                             "vidflow_leases") == SLOTS,
                      deadline_s=60)
        t_term = time.monotonic()
        rc = w1.stop(deadline_s=60)
        term_s = time.monotonic() - t_term
        problems = []
        if rc != 0:
            problems.append(f"w1 exited {rc} after SIGTERM (None: killed "
                            f"after 60 s)")
        log = w1.log_text()
        if "tasks still leased after the drain timeout" not in log:
            problems.append("w1's log lacks 'tasks still leased after the "
                            "drain timeout'")
        # Only now a second node: the handed-on leases can go nowhere else.
        self.add_worker(certs, "w2")
        final = cx.wait_terminal(client, jobs, deadline_s=120)
        problems += cx.outcome_problems(jobs, final)
        rows = attempts(coord, jobs)
        on_w1 = [r for r in rows if r["node"] == "w1"]
        ok_w1 = [r for r in on_w1 if r["ok"]]
        if ok_w1:
            problems.append(f"{len(ok_w1)} ok step(s) on w1, which should "
                            f"have left before its {TIMEOUT_SLEEP_MS} ms "
                            f"steps ended: {brief(ok_w1)}")
        handed = [r for r in on_w1 if not r["ok"]
                  and r["error_code"] == "worker_lost"]
        if len(handed) != SLOTS:
            problems.append(f"expected {SLOTS} worker_lost attempts on w1 "
                            f"(its leases handed on), got {brief(on_w1)}")
        ok_w2 = [r for r in rows if r["node"] == "w2" and r["ok"]]
        if len(ok_w2) != SLOTS:
            problems.append(f"expected w2 to finish {SLOTS} steps, got "
                            f"{brief(ok_w2)}")
        w2_rc = self.workers["w2"].stop(deadline_s=60)
        if w2_rc != 0:
            problems.append(f"w2 exited {w2_rc} after SIGTERM")
        cx.print_summary("cluster: drain timeout", [
            ("w1", f"SIGTERM with {SLOTS} leases of {TIMEOUT_SLEEP_MS} ms "
                   f"steps, --drain-timeout-s 1: exit {rc} after "
                   f"{term_s:.2f}s"),
            ("w1 attempts", brief(on_w1)),
            ("jobs", cx.fmt_counter(collections.Counter(
                j["status"] for j in final.values()))),
            ("ok steps on w2", len(ok_w2)),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
