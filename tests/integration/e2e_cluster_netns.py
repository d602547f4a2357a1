#!/usr/bin/python3
"""End-to-end cluster over real links: worker nodes in network namespaces.

    /usr/bin/python3 tests/integration/e2e_cluster_netns.py \\
        --binary build/vidflow [--jobs 60] [--sleep-ms 250] [--keep]

Needs root (`ip netns`, veth pairs); when the kernel or the user may not
create namespaces it prints the reason and exits 77 (CTest: "Skipped"). Each of three worker nodes is
a "host" of its own: a network namespace `vfwN-<random>` with a veth pair to
the root namespace (10.231.N.1/30 on the root side `vfrN-<random>`,
10.231.N.2/30 inside, lo up, default route via the root side). The
coordinator runs in the root namespace on 10.231.0.1/32 (added to lo for the
test), which every node reaches through its own link: cluster port and
built-in store listen there, and workers fetch uploads from it
(--cluster-object-url). The JSON API stays on 127.0.0.1.

60 jobs (`sleep,probe,summarize`); while leases are in flight the link of
node w1 is cut (`ip link set <root side> down`). Expected: the coordinator
notices (w1 disappears from /cluster/nodes: heartbeat timeout), w1's leases
end as `worker_lost` failures and are done by the other nodes, all 60 jobs
SUCCEEDED, each step recorded ok exactly once (including whatever w1
finished while cut off and re-reported later). Then the link comes back:
w1 reconnects and registers again (registrations >= 2 in /cluster/nodes),
and runs tasks of 30 more jobs, which also all SUCCEEDED once each.

Namespaces, veths, the lo address and every process are removed at the end,
also on failure (try/finally and atexit).
"""

import atexit
import collections
import os
import random
import signal
import string
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402

JOBS = cl.pop_option("jobs", 60, int)
MORE_JOBS = cl.pop_option("more-jobs", 30, int)
SLEEP_MS = cl.pop_option("sleep-ms", 250, int)
NODES = ("w1", "w2", "w3")
SLOTS = 2
COORDINATOR_IP = "10.231.0.1"
SKIP_EXIT_CODE = 77
# The heartbeat timeout under test (a cut link is noticed by it alone).
TIMEOUT_MS = 3000


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True,
                       timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} exited {r.returncode}: "
                             f"{r.stderr.strip()}")
    return r


class Network:
    """The namespaces, veth pairs and the coordinator's address; `close()`
    removes whatever of it exists (idempotent, also from atexit)."""

    def __init__(self, count):
        self.suffix = "".join(random.choice(string.ascii_lowercase
                                            + string.digits)
                              for _ in range(4))
        self.count = count
        self.netns = [f"vfw{i}-{self.suffix}" for i in range(1, count + 1)]
        self.root_if = [f"vfr{i}-{self.suffix}" for i in range(1, count + 1)]
        self.node_if = [f"vfn{i}-{self.suffix}" for i in range(1, count + 1)]
        self.lo_addr = False
        self.made_ns = []
        self.made_if = []
        atexit.register(self.close)

    @staticmethod
    def preflight():
        """None when namespaces work here, else the reason they do not."""
        if os.geteuid() != 0:
            return "not root (ip netns needs CAP_SYS_ADMIN)"
        probe = "vfprobe-" + "".join(random.choice(string.ascii_lowercase)
                                     for _ in range(4))
        try:
            r = ip("netns", "add", probe, check=False)
        except FileNotFoundError:
            return "the `ip` command (iproute2) is not installed"
        if r.returncode != 0:
            return f"`ip netns add` failed: {r.stderr.strip()}"
        ip("netns", "del", probe, check=False)
        r = ip("-4", "addr", "show", "to", "10.231.0.0/16", check=False)
        if r.stdout.strip():
            return (f"10.231.0.0/16 is in use on this host (a run killed "
                    f"with SIGKILL leaves {COORDINATOR_IP}/32 on lo and "
                    f"vfwN-* namespaces behind: `ip addr del "
                    f"{COORDINATOR_IP}/32 dev lo`, `ip netns del ...`):\n"
                    f"{r.stdout}")
        return None

    def setup(self):
        ip("addr", "add", f"{COORDINATOR_IP}/32", "dev", "lo")
        self.lo_addr = True
        for i, (ns, rif, nif) in enumerate(
                zip(self.netns, self.root_if, self.node_if), start=1):
            ip("netns", "add", ns)
            self.made_ns.append(ns)
            ip("link", "add", rif, "type", "veth", "peer", "name", nif,
               "netns", ns)
            self.made_if.append(rif)
            ip("addr", "add", f"10.231.{i}.1/30", "dev", rif)
            ip("link", "set", rif, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"10.231.{i}.2/30", "dev", nif)
            ip("-n", ns, "link", "set", nif, "up")
            ip("-n", ns, "route", "add", "default", "via", f"10.231.{i}.1")

    def cut(self, index):
        ip("link", "set", self.root_if[index], "down")

    def restore(self, index):
        ip("link", "set", self.root_if[index], "up")

    def close(self):
        for ns in list(self.made_ns):
            # Whatever still runs inside is ours: end it by PID.
            r = ip("netns", "pids", ns, check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        for rif in list(self.made_if):
            ip("link", "del", rif, check=False)
            self.made_if.remove(rif)
        for ns in list(self.made_ns):
            ip("netns", "del", ns, check=False)
            self.made_ns.remove(ns)
        if self.lo_addr:
            ip("addr", "del", f"{COORDINATOR_IP}/32", "dev", "lo", check=False)
            self.lo_addr = False

    def leftovers(self):
        """Names of our namespaces or links that still exist."""
        left = [ns for ns in self.netns
                if ns in ip("netns", "list", check=False).stdout]
        links = ip("-br", "link", check=False).stdout
        left += [rif for rif in self.root_if if rif in links]
        return left


class ClusterNetns(unittest.TestCase):

    def setUp(self):
        reason = Network.preflight()
        if reason:
            print(f"\n  SKIP: network namespaces are not available here: "
                  f"{reason}", flush=True)
            self.skipTest(reason)
        self.net = Network(len(NODES))
        self.coord = None
        self.workers = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for w in self.workers:
            if w.alive():
                w.stop(deadline_s=15)
        if self.coord is not None:
            self.coord.stop()
        self.net.close()
        left = self.net.leftovers()
        if left:
            print(f"  WARNING: still present after clean-up: {left}",
                  file=sys.stderr)

    def test_link_cut_and_restored(self):
        net = self.net
        net.setup()
        certs = cx.Certs(h.binary).make("coordinator", *NODES)
        store = h.free_port()
        url = f"http://{COORDINATOR_IP}:{store}"
        coord = cx.Coordinator(
            h.binary, certs, sleep_ms=SLEEP_MS, timeout_ms=TIMEOUT_MS,
            cluster_host=COORDINATOR_IP,
            store_host=COORDINATOR_IP, object_url=url, public_url=url,
            store_port=store)
        self.coord = coord.start()
        join = coord.join_address(COORDINATOR_IP)
        self.workers = [cx.WorkerNode(h.binary, n, join, certs.args(n),
                                      slots=SLOTS, timeout_ms=TIMEOUT_MS,
                                      netns=ns).start()
                        for n, ns in zip(NODES, net.netns)]
        coord.wait_nodes(f"nodes {NODES} registered from their namespaces",
                         lambda ns: all(n in ns and ns[n]["workers"] == SLOTS
                                        for n in NODES))
        print(f"\n  namespaces {net.netns}; coordinator {join}; "
              f"{JOBS} jobs then {MORE_JOBS} more", flush=True)
        victim, vi = self.workers[0], 0
        client = coord.client()
        retries = cl.Retries()
        t0 = time.monotonic()
        jobs = cx.submit_jobs(client, JOBS, tag="netns", retries=retries)
        steps, _ = cx.wait_progress(coord, max(1, JOBS // 4))
        net.cut(vi)
        t_cut = time.monotonic()
        print(f"  cut {net.root_if[vi]} ({victim.name}) at "
              f"t={t_cut - t0:.1f}s, {steps} steps done", flush=True)
        problems = []
        try:
            coord.wait_nodes(f"{victim.name} dropped after its link was cut",
                             lambda ns: victim.name not in ns, deadline_s=30)
            detected_s = time.monotonic() - t_cut
        except AssertionError as e:
            problems.append(str(e))
            detected_s = None
        print(f"  {victim.name} gone from /cluster/nodes after "
              f"{detected_s if detected_s is None else round(detected_s, 1)}s",
              flush=True)
        final = cx.wait_terminal(client, jobs, deadline_s=180,
                                 retries=retries)
        phase1_s = time.monotonic() - t0
        problems += cx.outcome_problems(jobs, final)
        rep1 = cx.LedgerReport(coord.ledger(), jobs, final, coord.pipeline)
        problems += rep1.problems
        lost_problems, lost = cx.lost_lease_problems(rep1, victim.name,
                                                     "cut off")
        problems += lost_problems
        cut_log = victim.log_counts()
        if cut_log["lost the coordinator"] < 1:
            problems.append(f"{victim.name} never logged that it lost the "
                            f"coordinator while cut off")

        # --- the link comes back -------------------------------------------
        net.restore(vi)
        back = cx.Rejoin(coord, client, victim, jobs, final, rep1, MORE_JOBS,
                         "netns-again", retries, "its link was restored",
                         deadline_s=90)
        problems += back.problems
        more, rep = back.more, back.rep
        rejoin_s, registrations = back.rejoin_s, back.registrations
        victim_again = back.victim_again
        print(f"  link up; {victim.name} back after "
              f"{rejoin_s if rejoin_s is None else round(rejoin_s, 1)}s, "
              f"registrations={registrations}", flush=True)
        meta, clips = cx.metadata_problems(client, jobs + more, count=2)
        problems += meta
        vlog = victim.log_counts()

        cx.print_summary("cluster over network namespaces", [
            ("jobs", f"{JOBS} + {len(more)} after the link came back "
                     f"({cx.fmt_counter(collections.Counter(j['status'] for j in final.values()))})"),
            ("cut", f"{victim.name}'s link at {steps} steps done; gone from "
                    f"/cluster/nodes after "
                    f"{'never' if detected_s is None else f'{detected_s:.1f}s'}"),
            ("lost leases", f"{len(lost)} worker_lost on {victim.name} "
                            f"({cx.fmt_counter(collections.Counter(r['kind'] for r in lost))})"),
            ("first batch done", f"t={phase1_s:.1f}s"),
            ("restored", f"back after "
                         f"{'never' if rejoin_s is None else f'{rejoin_s:.1f}s'}; "
                         f"registrations={registrations}"),
            (f"{victim.name} log", cx.fmt_counter(vlog)),
            (f"{victim.name} ok steps after", victim_again),
            ("ok steps by node", cx.fmt_counter(rep.ok_by_node)),
            ("failed attempts", cx.fmt_counter(rep.failed)),
            ("duplicate ok steps",
             sum(len(v) - 1 for v in rep.duplicates.values())),
            ("results checked", ", ".join(clips)),
            ("client retries", retries.summary()),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))


if __name__ == "__main__":
    # CTest shows exit code 77 as "Skipped" (SKIP_RETURN_CODE in
    # cluster.cmake), not as a pass; the unittest skip in setUp covers other
    # runners.
    if not {"-h", "--help"} & set(sys.argv):
        why = Network.preflight()
        if why:
            print(f"SKIP: network namespaces are not available here: {why}",
                  flush=True)
            sys.exit(SKIP_EXIT_CODE)
    # SIGTERM (e.g. from a test runner) unwinds like Ctrl-C, so the
    # namespaces, links and processes are still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    h.main(__doc__)
