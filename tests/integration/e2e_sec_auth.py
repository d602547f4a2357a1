#!/usr/bin/python3
"""End-to-end: accounts and logins against the real `vidflow` binary
(issue 8, findings #6 and #7).

    /usr/bin/python3 tests/integration/e2e_sec_auth.py --binary build/vidflow

- Tokens do not outlive their accounts: `vidflow users remove`, `role` and
  `passwd` take effect on a running node (within a second) and across a
  restart; old tokens get 401 (removed, password or role changed) and a
  demoted admin's fresh token gets 403 on an admin route.
- The users file is mode 0600 and holds scrypt hashes, never a password.
- Password guessing is throttled: 429 with Retry-After comes after a few
  failures, and the wait grows.
"""

import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

DEADLINE_S = 15  # a change must be seen within a second; this is slack


def users(data_dir, *args, password=None):
    """Runs `vidflow users ARGS --data-dir DATA_DIR`, password on stdin."""
    return subprocess.run(
        [h.binary, "users", *args, "--data-dir", data_dir],
        input=(password + "\n") if password is not None else "",
        capture_output=True, text=True, timeout=60)


def must(result):
    if result.returncode != 0:
        raise AssertionError(f"vidflow users failed ({result.returncode}): "
                             f"{result.stdout} {result.stderr}")
    return result


def poll(fn, what, deadline_s=DEADLINE_S):
    """Calls fn() until it returns a true value; fails after the deadline."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {deadline_s}s (last: {last!r})")


def login(base, name, password):
    return h.request("POST", base + "/auth/login",
                     {"username": name, "password": password})


def token_of(base, name, password):
    """Logs in, polling: a just-added account appears within a second."""
    r = poll(lambda: (lambda r: r if r.status == 200 else None)(
        login(base, name, password)), f"login as {name}")
    return r.json()["access_token"]


def get(base, path, token):
    return h.request("GET", base + path,
                     headers={"Authorization": f"Bearer {token}"})


class SecAuth(unittest.TestCase):

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        doc = r.json()
        self.assertEqual(doc.get("code"), code, r)
        self.assertTrue(doc.get("detail"), r)

    def start(self, data_dir):
        return h.Server(h.binary, data_dir=data_dir)

    def test_users_help(self):
        r = subprocess.run([h.binary, "users", "--help"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("add", "remove", "passwd", "role", "list", "--data-dir"):
            self.assertIn(word, r.stdout)
        r = subprocess.run([h.binary, "users", "frobnicate"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([h.binary, "--help"], capture_output=True,
                           text=True, timeout=30)
        self.assertIn("users", r.stdout)

    def test_changes_apply_to_a_running_node(self):
        data_dir = tempfile.mkdtemp(prefix="auth-", dir=h.scratch_dir())
        node = self.start(data_dir)
        try:
            base = node.base
            # The first start wrote the file from auth.users: hashed, 0600.
            path = os.path.join(data_dir, "users.json")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600, oct(mode))
            must(users(data_dir, "add", "carol", password="carol-Secret-42"))
            must(users(data_dir, "add", "dave", "admin",
                       password="dave-Secret-42"))
            with open(path) as f:
                text = f.read()
            self.assertNotIn("carol-Secret-42", text)
            self.assertNotIn("dave-Secret-42", text)
            self.assertNotIn("demo:demo", text)
            self.assertEqual(text.count("$scrypt$N="), 4, text)
            listed = must(users(data_dir, "list")).stdout.split("\n")
            self.assertIn("dave\tadmin", listed)
            self.assertIn("demo\tuser", listed)

            carol = token_of(base, "carol", "carol-Secret-42")
            dave = token_of(base, "dave", "dave-Secret-42")
            self.assertEqual(get(base, "/history", carol).status, 200)
            self.assertEqual(get(base, "/dlq", dave).status, 200)

            # Removed: the token dies within a second, no restart.
            must(users(data_dir, "remove", "carol"))
            r = poll(lambda: (lambda r: r if r.status != 200 else None)(
                get(base, "/history", carol)), "removed user's token refused")
            self.assert_error(r, 401, "unauthorized")
            self.assert_error(login(base, "carol", "carol-Secret-42"), 401,
                              "unauthorized")

            # Demoted: tokens issued before the change are revoked (a new
            # epoch), and a fresh login carries the new role only.
            must(users(data_dir, "role", "dave", "user"))
            r = poll(lambda: (lambda r: r if r.status != 200 else None)(
                get(base, "/dlq", dave)), "demoted admin refused")
            self.assert_error(r, 401, "unauthorized")
            self.assert_error(get(base, "/history", dave), 401,
                              "unauthorized")
            dave = token_of(base, "dave", "dave-Secret-42")
            self.assert_error(get(base, "/dlq", dave), 403, "forbidden")
            self.assertEqual(get(base, "/history", dave).status, 200)

            # New password: older tokens are revoked.
            must(users(data_dir, "passwd", "dave", password="dave-New-43"))
            r = poll(lambda: (lambda r: r if r.status != 200 else None)(
                get(base, "/history", dave)), "old token after passwd")
            self.assert_error(r, 401, "unauthorized")
            fresh = token_of(base, "dave", "dave-New-43")
            self.assertEqual(get(base, "/history", fresh).status, 200)
            self.assert_error(login(base, "dave", "dave-Secret-42"), 401,
                              "unauthorized")
        finally:
            node.stop()

    def test_changes_apply_across_a_restart(self):
        data_dir = tempfile.mkdtemp(prefix="auth-", dir=h.scratch_dir())
        node = self.start(data_dir)
        must(users(data_dir, "add", "frank", "admin", password="frank-pw-1"))
        must(users(data_dir, "add", "gina", password="gina-pw-1"))
        frank = token_of(node.base, "frank", "frank-pw-1")
        gina = token_of(node.base, "gina", "gina-pw-1")
        self.assertEqual(get(node.base, "/dlq", frank).status, 200)
        self.assertEqual(get(node.base, "/history", gina).status, 200)
        self.assertEqual(node.stop(), 0)
        must(users(data_dir, "remove", "gina"))
        must(users(data_dir, "role", "frank", "user"))
        node = self.start(data_dir)
        try:
            self.assert_error(get(node.base, "/history", gina), 401,
                              "unauthorized")
            self.assert_error(get(node.base, "/dlq", frank), 401,
                              "unauthorized")
            frank = token_of(node.base, "frank", "frank-pw-1")
            self.assert_error(get(node.base, "/dlq", frank), 403, "forbidden")
            # The file wins over auth.users, and the log says so.
            self.assertIn("auth.users is ignored", node.log_text())
            # demo/demo from auth.users still logs in (make run's walk-through).
            token_of(node.base, "demo", "demo")
        finally:
            node.stop()

    def test_password_guessing_is_throttled(self):
        # Its own node: the guessing blocks this client's logins for a while.
        data_dir = tempfile.mkdtemp(prefix="auth-", dir=h.scratch_dir())
        node = self.start(data_dir)
        try:
            base = node.base
            statuses = []
            first_429 = None
            for i in range(300):
                r = login(base, "admin", f"guess-{i}")
                statuses.append(r.status)
                self.assertLess(r.status, 500, r)
                self.assertNotEqual(r.status, 200, r)
                if r.status == 429 and first_429 is None:
                    first_429 = r
                    self.assertEqual(r.json().get("code"), "rate_limited", r)
                    self.assertTrue(r.json().get("detail"), r)
                    self.assertTrue(r.headers.get("retry-after", "").isdigit(),
                                    r.headers)
            self.assertIsNotNone(first_429, f"no 429 in 300 guesses")
            self.assertLessEqual(statuses.index(429), 10, statuses[:20])
            self.assertLessEqual(statuses.count(401), 10, statuses.count(401))
            # Blocked means blocked, even with the right password.
            self.assert_error(login(base, "admin", "admin"), 429,
                              "rate_limited")
            # Waiting as told lets one more guess through; the wait grows.
            waits = []
            for _ in range(2):
                r = poll(lambda: (lambda r: r if r.status != 429 else None)(
                    login(base, "admin", "still-guessing")),
                    "Retry-After elapsed", deadline_s=30)
                self.assert_error(r, 401, "unauthorized")
                r = login(base, "admin", "still-guessing")
                self.assert_error(r, 429, "rate_limited")
                waits.append(int(r.headers["retry-after"]))
            self.assertGreater(waits[1], waits[0], waits)
        finally:
            node.stop()


if __name__ == "__main__":
    h.main(__doc__)
