#!/usr/bin/python3
"""End-to-end cluster: a coordinator and three worker nodes on 127.0.0.1.

    /usr/bin/python3 tests/integration/e2e_cluster.py --binary build/vidflow \\
        [--jobs 200] [--sleep-ms 250] [--down 3] [--keep] \\
        [-k worker|coordinator]

`vidflow serve --workers 0 --cluster-port C` (mutual TLS, certificates from
`vidflow cluster init-certs`) and three `vidflow worker` nodes with 2 slots
each. Every job runs `sleep,probe,summarize`; the sleep step keeps leases in
flight on every node. 200 small clips are created and uploaded concurrently.

test_worker_node_killed: once 50 steps are done (every node holds leases),
one worker node gets SIGKILL and a new node (new name, certificate from the
same CA) joins. Expected: the coordinator drops the dead node from
/cluster/nodes (closed connection or heartbeat timeout); its leases end in
the ledger as `worker_lost` failures and each of those steps is then done ok
by another node; no node that was not killed loses a lease; the new node
runs tasks; every job SUCCEEDED; each step recorded ok exactly once; the
surviving nodes drain and exit 0 on SIGTERM.

test_coordinator_killed: once 100 steps are done, the coordinator gets
SIGKILL and stays down for 3 s, then is restarted on the same ports and
data directory. Every worker node logs that it lost the coordinator and
could not reach it, reconnects with backoff and registers again (all three
back in /cluster/nodes); results finished meanwhile are re-reported; every
job SUCCEEDED; each step recorded ok exactly once.

Both check a few results against ffprobe of the uploaded clip, count
effects independently of the ledger (every process appends each task its
workers finished and each ok step the ledger committed to one effects log,
`--effects-log`, test only: each step recorded at most once, from a lease a
worker finished ok; every other ok execution explained by a lease handed
back, a coordinator killed before it could record it, or, after the
coordinator's restart only, a re-reported lease recorded instead) and print
a summary (kills, lost leases, re-registrations, retries, effects).
"""

import collections
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402

JOBS = cl.pop_option("jobs", 200, int)
SLEEP_MS = cl.pop_option("sleep-ms", 250, int)
DOWN_S = cl.pop_option("down", 3.0, float)
NODES = ("w1", "w2", "w3")
SLOTS = 2


class Cluster(unittest.TestCase):

    def setUp(self):
        self.coord = None
        self.workers = []

    def tearDown(self):
        # Workers first (SIGTERM drains; a worker whose coordinator is gone
        # is killed after the deadline), then the coordinator.
        for w in self.workers:
            if w.alive():
                w.stop(deadline_s=20)
        if self.coord is not None:
            self.coord.stop()

    def start_cluster(self):
        certs = cx.Certs(h.binary).make("coordinator", *NODES)
        self.effects = cl.EffectsLog("cluster-effects")
        self.coord = cx.Coordinator(h.binary, certs, sleep_ms=SLEEP_MS,
                                    extra_args=self.effects.args()).start()
        self.workers = [cx.WorkerNode(h.binary, n, self.coord.join_address(),
                                      certs.args(n), slots=SLOTS,
                                      extra_args=self.effects.args()).start()
                        for n in NODES]
        nodes = self.coord.wait_nodes(
            f"nodes {NODES} registered",
            lambda ns: all(n in ns and ns[n]["workers"] == SLOTS
                           for n in NODES))
        print(f"\n  cluster up: {sorted(nodes)}; submitting {JOBS} jobs "
              f"(pipeline {','.join(self.coord.pipeline)}, sleep "
              f"{SLEEP_MS} ms)", flush=True)
        return certs

    def stop_workers_cleanly(self, problems):
        """SIGTERM every live worker: it drains and must exit 0."""
        codes = {}
        for w in self.workers:
            if w.alive():
                codes[w.name] = w.stop(deadline_s=60)
                if codes[w.name] != 0:
                    problems.append(f"worker {w.name} exited with "
                                    f"{codes[w.name]} after SIGTERM "
                                    f"(None: killed after 60 s)")
        return codes

    # ------------------------------------------------------------------------

    def test_worker_node_killed(self):
        certs = self.start_cluster()
        coord = self.coord
        client = coord.client()
        retries = cl.Retries()
        t0 = time.monotonic()
        jobs = cx.submit_jobs(client, JOBS, tag="wkill", retries=retries)
        uploaded_at = time.monotonic() - t0
        # A quarter of the sleeps done: every node holds leases.
        steps, at_kill = cx.wait_progress(coord, JOBS // 4)
        victim = self.workers[1]
        victim.kill()
        t_kill = time.monotonic()
        print(f"  SIGKILL worker node {victim.name} at t={t_kill - t0:.1f}s "
              f"({steps}/{JOBS * len(coord.pipeline)} steps done; jobs: "
              f"{cx.fmt_counter(at_kill)})", flush=True)
        certs.make("w4")
        newcomer = cx.WorkerNode(h.binary, "w4", coord.join_address(),
                                 certs.args("w4"), slots=SLOTS,
                                 extra_args=self.effects.args()).start()
        self.workers.append(newcomer)
        nodes = coord.wait_nodes(f"{victim.name} dropped from /cluster/nodes",
                                 lambda ns: victim.name not in ns,
                                 deadline_s=30)
        detected_s = time.monotonic() - t_kill
        print(f"  {victim.name} gone from /cluster/nodes after "
              f"{detected_s:.1f}s; nodes now {sorted(nodes)}", flush=True)
        # A node's workers register one by one: wait for all of w4's.
        nodes = coord.wait_nodes(
            "w4 registered", lambda ns: "w4" in ns
            and ns["w4"]["slots"] == SLOTS)
        # /metrics follows (the gauges are set a moment after the
        # registry changes): a series per node there, none for the dead one.
        end = time.monotonic() + 15
        while True:
            m = client.metrics()
            nodes = coord.nodes()
            if time.monotonic() > end or (
                    all(h.metric_value(m, "vidflow_node_slots", node=name)
                        == nodes[name]["slots"] for name in nodes)
                    and f'vidflow_node_slots{{node="{victim.name}"}}'
                    not in m):
                break
            time.sleep(0.2)
        for name in nodes:
            self.assertEqual(h.metric_value(m, "vidflow_node_slots",
                                            node=name),
                             nodes[name]["slots"], name)
        self.assertNotIn(f'vidflow_node_slots{{node="{victim.name}"}}', m)

        final = cx.wait_terminal(client, jobs, deadline_s=240,
                                 retries=retries)
        settled_at = time.monotonic() - t0
        problems = cx.outcome_problems(jobs, final)
        rep = cx.LedgerReport(coord.ledger(), jobs, final, coord.pipeline)
        problems += rep.problems
        effect_problems, effects = cx.effects_problems(
            coord, self.effects, jobs, allow_superseded=False)
        problems += effect_problems
        mine = [r for r in rep.lost if cx.node_of(r["worker"]) == victim.name]
        others = [r for r in rep.lost if cx.node_of(r["worker"]) != victim.name]
        if not mine:
            problems.append(f"the killed node {victim.name} has no "
                            f"worker_lost failures in the ledger (failures: "
                            f"{cx.fmt_counter(rep.failed)})")
        if others:
            problems.append(f"worker_lost failures on nodes that were not "
                            f"killed: {[(r['worker'], r['job_id']) for r in others]}")
        finishers = collections.Counter()
        for r in mine:
            done = rep.finished_elsewhere(r)
            if done is None:
                problems.append(f"job {r['job_id']}: lost {r['kind']} lease "
                                f"{r['lease_id']} was never done ok")
            elif cx.node_of(done["worker"]) == victim.name:
                problems.append(f"job {r['job_id']}: lost {r['kind']} lease "
                                f"{r['lease_id']} done ok by the killed node "
                                f"({done['worker']}, lease {done['lease_id']})")
            else:
                finishers[cx.node_of(done["worker"])] += 1
        if rep.ok_by_node["w4"] == 0:
            problems.append("the new node w4 ran no task (ok by node: "
                            f"{cx.fmt_counter(rep.ok_by_node)})")
        meta, clips = cx.metadata_problems(client, jobs)
        problems += meta
        # Before the SIGTERMs below, which add lines of their own.
        logs = {w.name: w.log_counts() for w in self.workers
                if w is not victim}
        exits = self.stop_workers_cleanly(problems)
        retried = sum(1 for j in final.values() if j.get("attempts", 1) > 1)

        cx.print_summary("cluster: worker node killed", [
            ("jobs", f"{JOBS} ({cx.fmt_counter(collections.Counter(j['status'] for j in final.values()))})"),
            ("uploads done", f"t={uploaded_at:.1f}s; settled t={settled_at:.1f}s"),
            ("killed", f"{victim.name} (SIGKILL) with {steps}/{JOBS * len(coord.pipeline)} steps done"),
            ("detected", f"gone from /cluster/nodes after {detected_s:.1f}s"),
            ("lost leases", f"{len(mine)} worker_lost on {victim.name} "
                            f"({cx.fmt_counter(collections.Counter(r['kind'] for r in mine))}); "
                            f"finished by {cx.fmt_counter(finishers)}"),
            ("worker logs", "; ".join(
                f"{n}: lost the coordinator {c['lost the coordinator']}, "
                f"registered {c['registered']}" for n, c in logs.items())),
            ("ok steps by node", cx.fmt_counter(rep.ok_by_node)),
            ("failed attempts", cx.fmt_counter(rep.failed)),
            ("jobs with attempts>1", retried),
            ("duplicate ok steps", sum(len(v) - 1 for v in rep.duplicates.values())),
            ("effects log", cx.fmt_counter(effects)),
            ("results checked", f"{len(clips)} vs ffprobe ({', '.join(clips)})"),
            ("client retries", retries.summary()),
            ("worker exits", cx.fmt_counter(exits)),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))

    def test_coordinator_killed(self):
        self.start_cluster()
        coord = self.coord
        client = coord.client()
        retries = cl.Retries()
        t0 = time.monotonic()
        jobs = cx.submit_jobs(client, JOBS, tag="ckill", retries=retries)
        uploaded_at = time.monotonic() - t0
        steps, at_kill = cx.wait_progress(coord, JOBS // 2)
        coord.kill()
        t_kill = time.monotonic()
        print(f"  SIGKILL coordinator at t={t_kill - t0:.1f}s "
              f"({steps}/{JOBS * len(coord.pipeline)} steps done; jobs: "
              f"{cx.fmt_counter(at_kill)})", flush=True)
        # Down long enough that every worker notices (heartbeat timeout).
        cx.wait_until("every worker logs 'lost the coordinator'",
                      lambda: all(w.log_counts()["lost the coordinator"]
                                  for w in self.workers), 30)
        # ...and long enough that they finish their leased tasks and retry
        # with backoff while it is away.
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - t_kill)))
        down_s = time.monotonic() - t_kill
        coord.start()
        t_up = time.monotonic()
        print(f"  restarted after {down_s:.1f}s down", flush=True)
        nodes = coord.wait_nodes(f"nodes {NODES} registered again",
                                 lambda ns: all(n in ns for n in NODES),
                                 deadline_s=90)
        rejoined_s = time.monotonic() - t_up
        print(f"  all nodes back {rejoined_s:.1f}s after the restart: "
              f"{ {n: v['registrations'] for n, v in nodes.items()} } "
              f"(registrations)", flush=True)

        final = cx.wait_terminal(client, jobs, deadline_s=240,
                                 retries=retries)
        settled_at = time.monotonic() - t0
        problems = cx.outcome_problems(jobs, final)
        rep = cx.LedgerReport(coord.ledger(), jobs, final, coord.pipeline)
        problems += rep.problems
        # Re-reports after the restart may race the step's retry: then
        # the step is recorded from one lease and the other ran for nothing.
        effect_problems, effects = cx.effects_problems(
            coord, self.effects, jobs, allow_superseded=True)
        problems += effect_problems
        logs = {w.name: w.log_counts() for w in self.workers}
        for name, c in logs.items():
            if c["lost the coordinator"] < 1:
                problems.append(f"worker {name} never logged that it lost "
                                f"the coordinator")
            if c["cannot reach"] < 1:
                problems.append(f"worker {name} never logged 'cannot reach "
                                f"the coordinator' in {down_s:.1f}s down")
            if c["registered"] < 2:
                problems.append(f"worker {name} registered {c['registered']} "
                                f"time(s), expected a second registration")
        meta, clips = cx.metadata_problems(client, jobs)
        problems += meta
        exits = self.stop_workers_cleanly(problems)
        retried = sum(1 for j in final.values() if j.get("attempts", 1) > 1)
        restart_log = coord.runs[-1].log_text()
        resumed = [ln.split("INFO", 1)[-1].strip() for ln in
                   restart_log.splitlines()
                   if "resum" in ln or "re-dispatch" in ln][:3]

        cx.print_summary("cluster: coordinator killed", [
            ("jobs", f"{JOBS} ({cx.fmt_counter(collections.Counter(j['status'] for j in final.values()))})"),
            ("uploads done", f"t={uploaded_at:.1f}s; settled t={settled_at:.1f}s"),
            ("killed", f"coordinator (SIGKILL) with {steps}/{JOBS * len(coord.pipeline)} steps done; down {down_s:.1f}s"),
            ("rejoined", f"all {len(NODES)} nodes {rejoined_s:.1f}s after restart"),
            ("worker logs", "; ".join(f"{n}: {cx.fmt_counter(c)}" for n, c in logs.items())),
            ("restart log", " | ".join(resumed) or "-"),
            ("ok steps by node", cx.fmt_counter(rep.ok_by_node)),
            ("failed attempts", cx.fmt_counter(rep.failed)),
            ("jobs with attempts>1", retried),
            ("duplicate ok steps", sum(len(v) - 1 for v in rep.duplicates.values())),
            ("effects log", cx.fmt_counter(effects)),
            ("results checked", f"{len(clips)} vs ffprobe ({', '.join(clips)})"),
            ("client retries", retries.summary()),
            ("worker exits", cx.fmt_counter(exits)),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
