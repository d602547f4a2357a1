#!/usr/bin/python3
"""End-to-end: connection exhaustion and HTTP framing (issue 8, #4 and #10).

    /usr/bin/python3 tests/integration/e2e_sec_net.py --binary build/vidflow

Against real `vidflow serve` nodes, loopback only (127.0.0.0/8; a second
address such as 127.0.0.2 is "another client"):

- a flood of idle sockets from one address, on each listener, is held to the
  per-client cap; the sockets over it are answered 503 at once, and another
  address still gets `/healthz` and a PUT through promptly;
- a request header dribbled a byte at a time, and an upload sending a byte
  now and then, are cut off within their windows;
- ambiguous framing (unknown transfer-coding, duplicate or list
  Content-Length, Transfer-Encoding with Content-Length, obs-fold) gets
  501/400 and a closed connection on both listeners;
- under a low descriptor limit (the node runs under `ulimit -n`), hundreds
  of idle API sockets starve neither store PUTs nor `/healthz`.

Deadlines below are correctness bounds ("must happen at all"), polled.
"""

import http.client
import os
import select
import socket
import stat
import sys
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

OTHER = "127.0.0.2"        # another client, as far as the node can tell
PER_CLIENT = 8             # per-client caps of the flood node
FLOOD = 20                 # idle sockets per listener from 127.0.0.1
PROMPT_S = 5               # "promptly": answers must come within this
LOW_NOFILE = 256           # descriptor limit of the low-limit node
LOW_FLOOD = 300            # idle API sockets against it


def request_from(src, url, method="GET", body=None, headers=None,
                 timeout=PROMPT_S):
    """One HTTP request from the local address `src`; returns
    (status, body)."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                      timeout=timeout,
                                      source_address=(src, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def open_idle(port, n, src="127.0.0.1"):
    """Opens `n` connections that never send anything."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def answered(socks, deadline_s):
    """Waits up to `deadline_s` for sockets that receive data or EOF; returns
    {socket: bytes received until EOF or a quiet second}."""
    got = {}
    end = time.monotonic() + deadline_s
    pending = list(socks)
    while pending and time.monotonic() < end:
        ready, _, _ = select.select(pending, [], [], 0.2)
        for s in ready:
            data = b""
            s.settimeout(1)
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            got[s] = data
            pending.remove(s)
    return got


def closed_within(sock, deadline_s, dribble=b"", every_s=0.25):
    """Sends `dribble` every `every_s` until the peer closes (True) or the
    deadline passes (False)."""
    end = time.monotonic() + deadline_s
    sock.settimeout(every_s)
    while time.monotonic() < end:
        try:
            if dribble:
                sock.sendall(dribble)
            data = sock.recv(65536)
            if not data:
                return True
        except socket.timeout:
            continue
        except OSError:
            return True  # reset or broken pipe: closed
    return False


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def raw_exchange(port, data, deadline_s=PROMPT_S):
    """Sends raw bytes; returns (status line, closed by the server)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=deadline_s)
    try:
        s.sendall(data)
        buf = b""
        end = time.monotonic() + deadline_s
        closed = False
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
        return buf.split(b"\r\n", 1)[0].decode("latin-1"), closed, buf
    finally:
        s.close()


FRAMING = [
    # (name, extra header lines, body, expected status)
    ("unknown coding before chunked",
     "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n", 501),
    ("duplicate Content-Length",
     "Content-Length: 2\r\nContent-Length: 2\r\n", "{}", 400),
    ("list Content-Length", "Content-Length: 2, 2\r\n", "{}", 400),
    ("Transfer-Encoding with Content-Length",
     "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n", "{}", 400),
    ("chunked with Content-Length",
     "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", "0\r\n\r\n", 400),
    ("obs-fold", "X-Folded: a\r\n b\r\nContent-Length: 2\r\n", "{}", 400),
]


class Flood(unittest.TestCase):
    """One node with small per-client caps and default timeouts."""

    @classmethod
    def setUpClass(cls):
        cls.node = h.Server(h.binary, name="vidflow-flood", workers=1,
                            extra_args=[
                                "--http-max-connections-per-client",
                                str(PER_CLIENT),
                                "--store-max-connections-per-client",
                                str(PER_CLIENT)])
        cls.api = cls.node.client()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def flood_and_check(self, port, marker):
        # 127.0.0.1 is about to be locked out: the job comes first.
        job = self.api.create_job("flood.mp4")
        socks = open_idle(port, FLOOD)
        try:
            got = answered(socks, PROMPT_S)
            refused = [d for d in got.values() if d.startswith(b"HTTP/1.1 503")]
            self.assertEqual(len(refused), FLOOD - PER_CLIENT,
                             f"answers over the cap: {list(got.values())[:3]}")
            for d in refused:
                self.assertIn(marker, d)
                self.assertIn(b"Retry-After: 1", d)
            # Another address gets through promptly, on both listeners.
            status, _ = request_from(OTHER, self.node.base + "/healthz")
            self.assertEqual(status, 200)
            status, body = request_from(OTHER, job["upload_url"], "PUT",
                                        b"not really a video",
                                        {"Content-Length": "18"})
            self.assertEqual(status, 200, body)
        finally:
            close_all(socks)

    def test_api_flood_from_one_address(self):
        self.flood_and_check(self.node.http_port, b"too_many_connections")

    def test_store_flood_from_one_address(self):
        self.flood_and_check(self.node.store_port, b"<Code>SlowDown</Code>")

    def check_framing(self, port, head_line):
        for name, extra, body, status in FRAMING:
            with self.subTest(port=port, variant=name):
                line, closed, raw = raw_exchange(
                    port, (head_line + "Host: 127.0.0.1\r\n" + extra + "\r\n"
                           + body).encode())
                self.assertTrue(line.startswith(f"HTTP/1.1 {status} "),
                                f"{name}: {raw[:300]!r}")
                self.assertTrue(closed, f"{name}: connection left open")

    def test_framing_api(self):
        self.check_framing(self.node.http_port,
                           "POST /auth/login HTTP/1.1\r\n")
        self.assertEqual(h.request("GET", self.node.base + "/healthz").status,
                         200)

    def test_framing_store(self):
        job = self.api.create_job("framing.mp4")
        url = urllib.parse.urlsplit(job["upload_url"])
        self.check_framing(self.node.store_port,
                           f"PUT {url.path}?{url.query} HTTP/1.1\r\n")
        # The job's upload URL still works: nothing was stored meanwhile.
        r = h.upload(job["upload_url"], b"fine")
        self.assertEqual(r.status, 200, r)


class Slow(unittest.TestCase):
    """One node with short header deadlines and a minimum upload rate."""

    @classmethod
    def setUpClass(cls):
        cls.node = h.Server(h.binary, name="vidflow-slow", workers=1,
                            extra_args=["--http-idle-timeout-s", "2",
                                        "--store-header-timeout-s", "2",
                                        "--store-min-rate", "1000",
                                        "--store-rate-window-s", "1"])
        cls.api = cls.node.client()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def test_dribbled_headers_are_cut_off(self):
        for port, line in ((self.node.http_port, b"GET /healthz HTTP/1.1\r\n"),
                           (self.node.store_port,
                            b"GET /uploads/x HTTP/1.1\r\n")):
            with self.subTest(port=port):
                s = socket.create_connection(("127.0.0.1", port))
                try:
                    s.sendall(line)
                    # Well past the 2 s deadline if it were per read.
                    self.assertTrue(closed_within(s, 10, b"X"))
                finally:
                    s.close()

    def test_trickling_upload_is_cut_off(self):
        job = self.api.create_job("slow.mp4")
        url = urllib.parse.urlsplit(job["upload_url"])
        s = socket.create_connection(("127.0.0.1", self.node.store_port))
        try:
            s.sendall((f"PUT {url.path}?{url.query} HTTP/1.1\r\n"
                       "Host: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                       ).encode() + b"x" * 10)
            # A byte every 0.25 s: every read is quick, the rate is not.
            self.assertTrue(closed_within(s, 10, b"x"))
        finally:
            s.close()
        self.assertEqual(self.api.get_job(job["job_id"])["status"],
                         "AWAITING_UPLOAD")
        # A client that keeps up still uploads.
        r = h.upload(job["upload_url"], b"y" * 5000)
        self.assertEqual(r.status, 200, r)


class LowDescriptors(unittest.TestCase):
    """A node under `ulimit -n`; default settings otherwise."""

    @classmethod
    def setUpClass(cls):
        wrapper = os.path.join(h.scratch_dir(), "vidflow-lownofile.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nulimit -n {LOW_NOFILE} || exit 3\n"
                    f"exec '{h.binary}' \"$@\"\n")
        os.chmod(wrapper, stat.S_IRWXU)
        cls.node = h.Server(wrapper, name="vidflow-lownofile", workers=1)
        cls.api = cls.node.client()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def test_idle_api_sockets_starve_nothing(self):
        job = self.api.create_job("lowfd.mp4")
        socks = open_idle(self.node.http_port, LOW_FLOOD)
        try:
            got = answered(socks, PROMPT_S)
            refused = [d for d in got.values() if d.startswith(b"HTTP/1.1 503")]
            self.assertGreater(len(refused), 0)
            for s in got:
                s.close()
            status, _ = request_from(OTHER, self.node.base + "/healthz")
            self.assertEqual(status, 200)
            status, body = request_from(OTHER, job["upload_url"], "PUT",
                                        b"not really a video",
                                        {"Content-Length": "18"})
            self.assertEqual(status, 200, body)
        finally:
            close_all(socks)
        log = self.node.log_text()
        self.assertIn("file descriptors: limit", log)
        self.assertLess(log.count("accept failed"), 5,
                        "accept failed repeatedly: descriptors ran out")


if __name__ == "__main__":
    h.main(__doc__)
