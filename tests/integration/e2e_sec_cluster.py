#!/usr/bin/python3
"""Issue 8 #8: a cluster certificate lets a node act only for itself.

    /usr/bin/python3 tests/integration/e2e_sec_cluster.py --binary build/vidflow

A coordinator (`vidflow serve --workers 0 --cluster-port ...` with the
admin secret `vidflow cluster init-certs` wrote) and two worker nodes, w1
and w2, over mutual TLS. Then, from outside:

1. `vidflow worker --join ... --drain --name w1` with w2's valid node
   certificate exits non-zero and says only w1 itself may ask; w1 is not
   draining in /cluster/nodes and keeps running.
2. The same with a wrong admin secret exits non-zero; w1 still not draining.
3. The same with the cluster admin secret (`--cluster-admin-key`) works: it
   exits 0 with "drained; told it to leave", /cluster/nodes showed w1
   draining, and the w1 process leaves by itself (exit 0); w2 stays.
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vfharness as h  # noqa: E402
import clusterlib as cx  # noqa: E402


def text(r):
    return " ".join((r.stdout + r.stderr).split())


class SecCluster(unittest.TestCase):

    def setUp(self):
        self.coord = None
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.alive():
                w.stop(deadline_s=20)
        if self.coord is not None:
            self.coord.stop()

    def drain(self, certs, name, as_node, extra=()):
        argv = [h.binary, "worker", "--join", self.coord.join_address(),
                "--drain", "--name", name, "--drain-timeout-s", "30",
                *certs.args(as_node), *extra]
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=90)

    def test_a_node_certificate_cannot_drain_another_node(self):
        certs = cx.Certs(h.binary).make("coordinator", "w1", "w2")
        self.assertTrue(os.path.isfile(certs.admin_secret),
                        "init-certs wrote no admin.secret")
        mode = os.stat(certs.admin_secret).st_mode & 0o777
        self.assertEqual(mode, 0o600, f"admin.secret has mode {oct(mode)}")
        self.coord = cx.Coordinator(h.binary, certs).start()
        for name in ("w1", "w2"):
            self.workers.append(cx.WorkerNode(
                h.binary, name, self.coord.join_address(), certs.args(name),
                slots=1).start())
        w1, w2 = self.workers
        self.coord.wait_nodes("w1 and w2 registered",
                              lambda ns: "w1" in ns and "w2" in ns)

        # 1. w2's certificate, no admin secret: refused.
        r = self.drain(certs, "w1", "w2")
        out = text(r)
        self.assertNotEqual(r.returncode, 0,
                            f"drain of w1 with w2's certificate: {out}")
        self.assertIn("only node 'w1' itself", out)
        nodes = self.coord.nodes()
        self.assertFalse(nodes["w1"]["draining"], nodes)
        self.assertTrue(w1.alive(), "w1 stopped after a refused drain")

        # 2. A wrong admin secret: refused.
        wrong = os.path.join(os.path.dirname(certs.admin_secret),
                             "wrong.secret")
        with open(wrong, "w") as f:
            f.write("0" * 64 + "\n")
        r = self.drain(certs, "w1", "w2", ["--cluster-admin-key", wrong])
        out = text(r)
        self.assertNotEqual(r.returncode, 0,
                            f"drain of w1 with a wrong admin key: {out}")
        self.assertIn("admin signature", out)
        nodes = self.coord.nodes()
        self.assertFalse(nodes["w1"]["draining"], nodes)
        self.assertTrue(w1.alive(), "w1 stopped after a refused drain")

        # 3. The operator's admin secret: w1 drains and leaves, w2 stays.
        r = self.drain(certs, "w1", "w2", certs.admin_args())
        out = text(r)
        self.assertEqual(r.returncode, 0, f"admin drain of w1: {out}")
        self.assertIn("node w1 drained; told it to leave", out)
        deadline = time.monotonic() + 20
        while w1.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(w1.alive(), "w1 did not leave after the drain")
        self.assertEqual(w1.proc.poll(), 0, w1.log_text()[-2000:])
        self.coord.wait_nodes("w1 gone, w2 still there",
                              lambda ns: "w1" not in ns and "w2" in ns,
                              deadline_s=20)
        self.assertTrue(w2.alive(), "w2 stopped")
        print(f"  refused without the admin key; drained with it",
              flush=True)


if __name__ == "__main__":
    h.main(__doc__)
