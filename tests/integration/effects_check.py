#!/usr/bin/python3
"""The checker behind the chaos and cluster tests' independent count of
effects (`chaoslib.effects_verdict`), on hand-made effects logs and ledgers:
it passes the explained histories and fails each kind of unexplained one
(a step recorded twice, a record no worker produced, a ledger entry that is
not the recorded lease, an ok execution that vanished, more lost record
lines than kills). A checker that cannot fail would make those tests
unable to fail too.

    /usr/bin/python3 tests/integration/effects_check.py --binary build/vidflow

(The binary is not used; the option is accepted like every suite here.)
"""

import sys
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

RUN = [{"start_ms": 0, "end_ms": None, "killed": False}]
KILLED_AT_50 = [{"start_ms": 0, "end_ms": 50, "killed": True},
                {"start_ms": 60, "end_ms": None, "killed": False}]


def ex(lease, at, ok=True, kind="probe", job="j1"):
    return {"e": "exec", "job": job, "kind": kind, "lease": lease,
            "version": "v1", "series": 0, "ok": ok, "at": at,
            "code": "" if ok else "timeout", "worker": "w"}


def rec(lease, at, kind="probe", job="j1"):
    return {"e": "record", "job": job, "kind": kind, "lease": lease,
            "version": "v1", "series": 0, "at": at, "worker": "w"}


def ledger(*entries):
    return {"j1": [{"kind": kind, "lease_id": lease, "ok": ok,
                    "object_version": "v1", "series": 0}
                   for lease, ok, kind in entries]}


class Verdict(unittest.TestCase):

    def verdict(self, lines, ledgers, runs=RUN, superseded=False):
        return cl.effects_verdict(lines, ledgers, runs,
                                  allow_superseded=superseded)

    def test_one_execution_one_record_passes(self):
        problems, counts = self.verdict(
            [ex(1, 10), rec(1, 11), ex(2, 20, kind="summarize"),
             rec(2, 21, kind="summarize")],
            ledger((1, True, "probe"), (2, True, "summarize")))
        self.assertEqual(problems, [])
        self.assertEqual(counts["ok executions recorded"], 2)

    def test_explained_extra_executions_pass(self):
        # Lease 1 was handed back (timeout) before its late ok finish;
        # lease 2 finished just before the node was killed; lease 3 counts.
        problems, counts = self.verdict(
            [ex(1, 10), ex(2, 40), ex(3, 70), rec(3, 71)],
            ledger((1, False, "probe"), (3, True, "probe")), KILLED_AT_50)
        self.assertEqual(problems, [])
        self.assertEqual(counts["extra: lease handed back first"], 1)
        self.assertEqual(counts["extra: recorder killed before recording"], 1)

    def test_a_step_recorded_twice_fails(self):
        problems, _ = self.verdict(
            [ex(1, 10), rec(1, 11), ex(2, 20), rec(2, 21)],
            ledger((1, True, "probe")))
        self.assertTrue(any("recorded 2 times" in p for p in problems),
                        problems)

    def test_a_record_without_its_execution_fails(self):
        problems, _ = self.verdict([rec(1, 11)], ledger((1, True, "probe")))
        self.assertTrue(any("no worker finished ok" in p for p in problems),
                        problems)
        problems, _ = self.verdict([ex(1, 10, ok=False), rec(1, 11)],
                                   ledger((1, True, "probe")))
        self.assertTrue(any("no worker finished ok" in p for p in problems),
                        problems)

    def test_a_ledger_lease_that_is_not_the_recorded_one_fails(self):
        problems, _ = self.verdict([ex(1, 10), rec(1, 11), ex(2, 12)],
                                   ledger((2, True, "probe")))
        self.assertTrue(any("is not the recorded one" in p
                            for p in problems), problems)

    def test_a_committed_step_missing_from_the_ledger_fails(self):
        problems, _ = self.verdict([ex(1, 10), rec(1, 11)], ledger())
        self.assertTrue(any("not in the ledger" in p for p in problems),
                        problems)

    def test_an_ok_execution_that_vanished_fails(self):
        # Lease 1 finished ok, was never recorded nor handed back, and the
        # node ran on: the step was redone as lease 2 for no reason.
        problems, _ = self.verdict(
            [ex(1, 10), ex(2, 20), rec(2, 21)], ledger((2, True, "probe")))
        self.assertTrue(any("neither recorded" in p for p in problems),
                        problems)
        # A kill before the finish does not explain it.
        problems, _ = self.verdict(
            [ex(1, 70), ex(2, 80), rec(2, 81)], ledger((2, True, "probe")),
            KILLED_AT_50)
        self.assertTrue(any("neither recorded" in p for p in problems),
                        problems)
        # Only cluster re-reports after a coordinator restart may supersede
        # a finished lease: not before the first kill.
        clean_then_killed = [
            {"start_ms": 0, "end_ms": 30, "killed": False},
            {"start_ms": 40, "end_ms": 50, "killed": True},
            {"start_ms": 60, "end_ms": None, "killed": False}]
        problems, _ = self.verdict(
            [ex(1, 10), ex(2, 20), rec(2, 21)], ledger((2, True, "probe")),
            clean_then_killed, superseded=True)
        self.assertTrue(any("neither recorded" in p for p in problems),
                        problems)
        problems, counts = self.verdict(
            [ex(1, 55), ex(2, 70), rec(2, 71)], ledger((2, True, "probe")),
            KILLED_AT_50, superseded=True)
        self.assertEqual(problems, [])
        self.assertEqual(counts["extra: step recorded from another lease"], 1)

    def test_lost_record_lines_are_bounded_by_kills(self):
        entries = ledger((1, True, "probe"), (2, True, "summarize"))
        lines = [ex(1, 10), ex(2, 20, kind="summarize")]
        problems, _ = self.verdict(lines, entries, KILLED_AT_50)
        self.assertTrue(any("killed only 1 times" in p for p in problems),
                        problems)
        problems, counts = self.verdict(
            lines + [rec(2, 21, kind="summarize")], entries, KILLED_AT_50)
        self.assertEqual(problems, [])
        self.assertEqual(counts["record lines lost to a kill"], 1)


if __name__ == "__main__":
    h.main(__doc__)
