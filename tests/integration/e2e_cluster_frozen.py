#!/usr/bin/python3
"""End-to-end cluster: a worker node frozen with SIGSTOP, then thawed.

    /usr/bin/python3 tests/integration/e2e_cluster_frozen.py \\
        --binary build/vidflow [--jobs 40] [--more-jobs 20] [--sleep-ms 250]

The heartbeat timeout, covered on every machine: a process stopped with
SIGSTOP keeps its TCP connection open but sends nothing, which is what a
hung host or a cut link looks like to the coordinator. No root needed (the
namespace variant, e2e_cluster_netns, is the same check over real links).

A coordinator (--workers 0, 1 s peer timeout) and three worker nodes on
127.0.0.1 run `sleep,probe,summarize` jobs. While leases are in flight one
node is frozen. Expected: the coordinator drops it from /cluster/nodes
(heartbeat timeout), its leases end as `worker_lost` failures and are done by
the other nodes, every job SUCCEEDED with each step recorded ok exactly once
(whatever the frozen node finishes after it is thawed is re-reported and
dropped, never recorded twice). Then SIGCONT: the node notices it lost the
coordinator, registers again (registrations >= 2) and runs tasks of more
jobs, which also all SUCCEEDED once each. Every process exits 0 at the end.
"""

import collections
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402

JOBS = cl.pop_option("jobs", 40, int)
MORE_JOBS = cl.pop_option("more-jobs", 20, int)
SLEEP_MS = cl.pop_option("sleep-ms", 250, int)
NODES = ("w1", "w2", "w3")
SLOTS = 2
# Short, so the frozen node is noticed quickly; the healthy nodes keep
# heartbeating every 200 ms, far inside it even on a loaded machine.
HEARTBEAT_MS = 200
TIMEOUT_MS = 1000


class ClusterFrozen(unittest.TestCase):

    def setUp(self):
        self.coord = None
        self.workers = []
        self.frozen = None
        self.addCleanup(self.cleanup)

    def cleanup(self):
        if self.frozen is not None and self.frozen.alive():
            self.frozen.proc.proc.send_signal(signal.SIGCONT)
        for w in self.workers:
            if w.alive():
                w.stop(deadline_s=30)
        if self.coord is not None:
            self.coord.stop()

    def test_frozen_node_is_dropped_and_comes_back(self):
        certs = cx.Certs(h.binary).make("coordinator", *NODES)
        coord = cx.Coordinator(h.binary, certs, sleep_ms=SLEEP_MS,
                               heartbeat_ms=HEARTBEAT_MS,
                               timeout_ms=TIMEOUT_MS)
        self.coord = coord.start()
        join = coord.join_address()
        self.workers = [cx.WorkerNode(h.binary, n, join, certs.args(n),
                                      slots=SLOTS, heartbeat_ms=HEARTBEAT_MS,
                                      timeout_ms=TIMEOUT_MS).start()
                        for n in NODES]
        coord.wait_nodes(f"nodes {NODES} registered",
                         lambda ns: all(n in ns and ns[n]["workers"] == SLOTS
                                        for n in NODES))
        victim = self.workers[0]
        client = coord.client()
        retries = cl.Retries()
        t0 = time.monotonic()
        jobs = cx.submit_jobs(client, JOBS, tag="frozen", retries=retries)
        steps, _ = cx.wait_progress(coord, max(1, JOBS // 4))
        victim.proc.proc.send_signal(signal.SIGSTOP)
        self.frozen = victim
        t_stop = time.monotonic()
        print(f"\n  SIGSTOP {victim.name} at t={t_stop - t0:.1f}s, "
              f"{steps} steps done", flush=True)
        problems = []
        try:
            coord.wait_nodes(f"{victim.name} dropped after SIGSTOP",
                             lambda ns: victim.name not in ns, deadline_s=30)
            detected_s = time.monotonic() - t_stop
        except AssertionError as e:
            problems.append(str(e))
            detected_s = None
        final = cx.wait_terminal(client, jobs, deadline_s=180,
                                 retries=retries)
        phase1_s = time.monotonic() - t0
        problems += cx.outcome_problems(jobs, final)
        rep1 = cx.LedgerReport(coord.ledger(), jobs, final, coord.pipeline)
        problems += rep1.problems
        lost_problems, lost = cx.lost_lease_problems(rep1, victim.name,
                                                     "frozen")
        problems += lost_problems

        # --- thawed ---------------------------------------------------------
        victim.proc.proc.send_signal(signal.SIGCONT)
        self.frozen = None
        back = cx.Rejoin(coord, client, victim, jobs, final, rep1, MORE_JOBS,
                         "frozen-again", retries, "SIGCONT")
        problems += back.problems
        more, rep = back.more, back.rep
        rejoin_s, registrations = back.rejoin_s, back.registrations
        victim_again = back.victim_again
        vlog = victim.log_counts()
        if vlog["lost the coordinator"] < 1:
            problems.append(f"{victim.name} never logged that it lost the "
                            f"coordinator after it was thawed")
        # Every process ends cleanly: SIGTERM drains, exit 0.
        for w in self.workers:
            rc = w.stop(deadline_s=60)
            if rc != 0:
                problems.append(f"worker node {w.name} exited {rc} on "
                                f"SIGTERM, expected 0")
        rc = coord.stop()
        if rc != 0:
            problems.append(f"the coordinator exited {rc} on SIGTERM, "
                            f"expected 0")

        cx.print_summary("cluster with a frozen node", [
            ("jobs", f"{JOBS} + {len(more)} after the thaw "
                     f"({cx.fmt_counter(collections.Counter(j['status'] for j in final.values()))})"),
            ("frozen", f"{victim.name} at {steps} steps done; gone from "
                       f"/cluster/nodes after "
                       f"{'never' if detected_s is None else f'{detected_s:.1f}s'}"),
            ("lost leases", f"{len(lost)} worker_lost on {victim.name} "
                            f"({cx.fmt_counter(collections.Counter(r['kind'] for r in lost))})"),
            ("first batch done", f"t={phase1_s:.1f}s"),
            ("thawed", f"back after "
                       f"{'never' if rejoin_s is None else f'{rejoin_s:.1f}s'}; "
                       f"registrations={registrations}"),
            (f"{victim.name} log", cx.fmt_counter(vlog)),
            (f"{victim.name} ok steps after", victim_again),
            ("ok steps by node", cx.fmt_counter(rep.ok_by_node)),
            ("failed attempts", cx.fmt_counter(rep.failed)),
            ("duplicate ok steps",
             sum(len(v) - 1 for v in rep.duplicates.values())),
            ("client retries", retries.summary()),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
