#!/usr/bin/python3
"""End-to-end: live progress of a job, `GET /jobs/{id}/events` (Server-Sent
Events) and `GET /jobs/{id}/ws` (WebSocket), against one `vidflow serve`.

    /usr/bin/python3 tests/integration/e2e_events.py --binary build/vidflow
    ... e2e_events.py Events.test_resume_has_no_gap_and_no_duplicate

The clients here are written on raw sockets on purpose: they see exactly
the bytes vidflow sends (framing, ids, the close after `done`). Deadlines
are correctness bounds only.
"""

import base64
import hashlib
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

USERS = "demo:demo:user,eve:evepass1:user,admin:admin:admin"
SOURCE = "h264_aac_640x360.mp4"
SLEEP_MS = 1500  # the sleep step: long enough to disconnect in the middle


def connect(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_head(sock):
    """Reads a response head; returns (status, {lower name: value}, rest)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed in the head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class SSE:
    """One Server-Sent Events stream, read event by event."""

    def __init__(self, port, path, token, last_id=None, timeout=60):
        self.sock = connect(port, timeout)
        req = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
               "Accept: text/event-stream"]
        if token:
            req.append(f"Authorization: Bearer {token}")
        if last_id is not None:
            req.append(f"Last-Event-ID: {last_id}")
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        self.status, self.headers, self.buf = read_head(self.sock)
        self.closed = False
        self.comments = 0
        self.retry = None
        if self.status != 200:
            # An error answer: read its JSON body.
            length = int(self.headers.get("content-length", "0"))
            while len(self.buf) < length:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
            self.body = self.buf[:length]
            self.sock.close()
            self.closed = True

    def next(self):
        """The next event as {id, event, data (parsed)}; None at the end."""
        while True:
            while b"\n\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.close()
                    if self.buf.strip():
                        raise AssertionError(f"stream ended mid-event: "
                                             f"{self.buf!r}")
                    self.closed = True
                    return None
                self.buf += chunk
            block, self.buf = self.buf.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments += 1
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data" and "data" in fields:
                    raise AssertionError(f"multi-line data: {block!r}")
                fields[name] = value
            if "retry" in fields and len(fields) == 1:
                self.retry = int(fields["retry"])
                continue
            if not fields:
                continue
            return {"id": fields["id"], "event": fields["event"],
                    "data": json.loads(fields["data"]),
                    "at": time.monotonic()}

    def close(self):
        self.sock.close()


class WS:
    """One WebSocket, reading vidflow's text messages."""

    def __init__(self, port, path, token, timeout=60):
        self.sock = connect(port, timeout)
        self.key = base64.b64encode(os.urandom(16)).decode()
        req = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
               "Upgrade: websocket", "Connection: Upgrade",
               f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        if token:
            req.append(f"Authorization: Bearer {token}")
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        self.status, self.headers, self.buf = read_head(self.sock)
        self.close_code = None

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1(
            (self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
            .digest()).decode()
        return (self.status == 101
                and self.headers.get("sec-websocket-accept") == want)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)])
                          + mask + masked)

    def next(self):
        """The next message as {id, event, data}; None once closed."""
        while True:
            try:
                self._need(2)
            except EOFError:
                self.close()
                return None
            b0, b1 = self.buf[0], self.buf[1]
            if b1 & 0x80:
                raise AssertionError("the server masked a frame")
            n, pos = b1 & 0x7F, 2
            if n == 126:
                self._need(4)
                n, pos = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                self._need(10)
                n, pos = int.from_bytes(self.buf[2:10], "big"), 10
            self._need(pos + n)
            payload, self.buf = self.buf[pos:pos + n], self.buf[pos + n:]
            opcode = b0 & 0x0F
            if opcode == 0x1:
                msg = json.loads(payload)
                msg["at"] = time.monotonic()
                return msg
            if opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big")
                try:
                    self._send(0x8, payload[:2])
                except OSError:
                    pass
                self.close()
                return None
            if opcode == 0x9:
                self._send(0xA, payload)

    def close(self):
        self.sock.close()


def slow_upload(url, data, pieces=8, pause_s=0.4):
    """PUTs `data` in pieces with pauses, so the upload takes a while."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    sock = connect(parts.port)
    target = parts.path + ("?" + parts.query if parts.query else "")
    sock.sendall((f"PUT {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                  f"Content-Type: video/mp4\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode())
    step = (len(data) + pieces - 1) // pieces
    for i in range(0, len(data), step):
        sock.sendall(data[i:i + step])
        time.sleep(pause_s)
    status, _, _ = read_head(sock)
    sock.close()
    return status


def drain(stream, limit=10000):
    """Every event until the stream closes."""
    out = []
    while len(out) < limit:
        ev = stream.next()
        if ev is None:
            return out
        out.append(ev)
    raise AssertionError("stream never ended")


class Events(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=(
            "--users", USERS, "--pipeline", "sleep,probe,summarize",
            "--sleep-ms", str(SLEEP_MS), "--http-max-streams-per-user", "3"))
        cls.c = cls.server.client()
        cls.eve = h.Client(cls.server.base)
        cls.eve.login("eve", "evepass1")
        cls.admin = h.Client(cls.server.base)
        cls.admin.login("admin", "admin")
        cls.port = cls.server.http_port
        cls.clip = h.read_bytes(h.clip(SOURCE))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def job(self, outputs=None):
        body = {"filename": "clip.mp4", "content_type": "video/mp4"}
        if outputs:
            body["outputs"] = outputs
        r = self.c.call("POST", "/jobs", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def states(self, events):
        return [e["data"]["status"] for e in events if e["event"] == "state"]

    def check_stream(self, events, job_id):
        """What every complete stream of a successful job satisfies."""
        ids = [e["id"] for e in events]
        self.assertEqual(len(ids), len(set(ids)), f"duplicate ids: {ids}")
        self.assertEqual(self.states(events),
                         ["AWAITING_UPLOAD", "SUBMITTED", "PROCESSING",
                          "SUCCEEDED"], events)
        # State ids grow; every other id names the state it follows.
        seqs = [int(e["id"]) for e in events if e["event"] == "state"]
        self.assertEqual(seqs, sorted(seqs))
        last_state = None
        for e in events:
            if e["event"] == "state":
                last_state = e["id"]
            else:
                self.assertEqual(e["id"].split(".")[0], last_state, e)
        done = events[-1]
        self.assertEqual(done["event"], "done", events[-3:])
        self.assertEqual(done["data"]["status"], "SUCCEEDED")
        self.assertEqual(done["data"]["result"], f"/jobs/{job_id}/result")
        self.assertEqual(done["id"], f"{last_state}.done")
        progress = [e for e in events if e["event"] == "progress"]
        self.assertTrue(progress, events)
        final = progress[-1]["data"]
        self.assertEqual(final["percent"], 100, final)
        self.assertEqual(final["status"], "SUCCEEDED", final)
        self.assertEqual({s["name"] for s in final["steps"]},
                         {"probe", "sleep", "summary"}, final)
        percents = [e["data"]["percent"] for e in progress]
        self.assertEqual(percents, sorted(percents), percents)
        # Consecutive samples differ (a sample is sent when it changed).
        datas = [json.dumps(e["data"], sort_keys=True) for e in progress]
        for a, b in zip(datas, datas[1:]):
            self.assertNotEqual(a, b)

    def test_follow_from_creation_to_done(self):
        job = self.job()
        sse = SSE(self.port, f"/jobs/{job['job_id']}/events", self.c.token)
        self.assertEqual(sse.status, 200)
        self.assertTrue(sse.headers["content-type"].startswith(
            "text/event-stream"), sse.headers)
        self.assertEqual(sse.headers.get("cache-control"), "no-store")
        first = sse.next()
        self.assertEqual(sse.retry, 2000)
        self.assertEqual(first["event"], "state")
        self.assertEqual(first["data"]["status"], "AWAITING_UPLOAD")
        self.assertRegex(first["data"]["at"], h.ISO_UTC)
        put = {}
        t = threading.Thread(target=lambda: put.update(
            status=slow_upload(job["upload_url"], self.clip)))
        t.start()
        events = [first] + drain(sse)
        t.join()
        self.assertEqual(put["status"], 200)
        self.assertTrue(sse.closed)
        self.check_stream(events, job["job_id"])
        # The upload was followed: bytes grow to the announced total, all
        # while the job awaited its upload.
        uploads = [e for e in events if e["event"] == "upload"]
        self.assertTrue(uploads, [e["event"] for e in events])
        sizes = [e["data"]["bytes"] for e in uploads]
        self.assertEqual(sizes, sorted(sizes))
        self.assertGreaterEqual(len(set(sizes)), 2, sizes)
        for e in uploads:
            self.assertEqual(e["data"]["total"], len(self.clip))
            self.assertLessEqual(e["data"]["bytes"], len(self.clip))
        order = [e["event"] for e in events]
        self.assertLess(order.index("upload"), order.index("progress"))
        # At most 4 samples a second (one per look, a look every 250 ms).
        samples = [e for e in events if e["event"] in ("upload", "progress")]
        span = samples[-1]["at"] - samples[0]["at"]
        self.assertLessEqual(len(samples), 4 * span + 2, (len(samples), span))

    def test_resume_has_no_gap_and_no_duplicate(self):
        job = self.job()
        jid = job["job_id"]
        path = f"/jobs/{jid}/events"
        whole = SSE(self.port, path, self.c.token)
        part = SSE(self.port, path, self.c.token)
        reference = {}
        t = threading.Thread(target=lambda: reference.update(
            events=drain(whole)))
        t.start()
        self.assertEqual(h.upload(job["upload_url"], self.clip,
                                  "video/mp4").status, 200)
        # Leave in the middle: once the job processes.
        seen = []
        while True:
            ev = part.next()
            self.assertIsNotNone(ev, seen)
            seen.append(ev)
            if ev["event"] == "state" and ev["data"]["status"] == "PROCESSING":
                break
        part.close()
        time.sleep(SLEEP_MS / 2000)  # the job moves on meanwhile
        resumed = SSE(self.port, path, self.c.token, last_id=seen[-1]["id"])
        self.assertEqual(resumed.status, 200)
        rest = drain(resumed)
        t.join()
        joined = seen + rest
        self.check_stream(joined, jid)
        # No state missed, none twice: the same as an unbroken stream's.
        want = [(e["id"], e["data"]) for e in reference["events"]
                if e["event"] == "state"]
        got = [(e["id"], e["data"]) for e in joined if e["event"] == "state"]
        self.assertEqual(got, want)
        self.assertEqual(joined[-1]["id"], reference["events"][-1]["id"])
        # Resuming from the very end: nothing more, and 204 tells
        # EventSource to stop reconnecting.
        end = SSE(self.port, path, self.c.token, last_id=joined[-1]["id"])
        self.assertEqual(end.status, 204)
        # Resuming from the last sample: the rest, without that sample.
        last_sample = [e for e in joined if "." in e["id"]
                       and e["event"] != "done"][-1]
        again = SSE(self.port, path, self.c.token, last_id=last_sample["id"])
        tail = drain(again)
        self.assertNotIn(last_sample["id"], [e["id"] for e in tail])
        self.assertEqual(tail[-1]["event"], "done")

    def test_websocket_follows_and_resumes(self):
        job = self.job()
        jid = job["job_id"]
        ws = WS(self.port, f"/jobs/{jid}/ws", self.c.token)
        self.assertTrue(ws.accept_ok(), (ws.status, ws.headers))
        first = ws.next()
        self.assertEqual(first["event"], "state")
        self.assertEqual(first["data"]["status"], "AWAITING_UPLOAD")
        self.assertEqual(h.upload(job["upload_url"], self.clip,
                                  "video/mp4").status, 200)
        seen = [first]
        while seen[-1]["event"] != "state" \
                or seen[-1]["data"]["status"] != "PROCESSING":
            ev = ws.next()
            self.assertIsNotNone(ev, seen)
            seen.append(ev)
        ws.close()
        resumed = WS(self.port,
                     f"/jobs/{jid}/ws?last_event_id={seen[-1]['id']}",
                     self.c.token)
        self.assertTrue(resumed.accept_ok())
        rest = drain(resumed)
        self.assertEqual(resumed.close_code, 1000)
        self.check_stream(seen + rest, jid)

    def test_only_owner_or_admin(self):
        job = self.job()
        jid = job["job_id"]
        other = SSE(self.port, f"/jobs/{jid}/events", self.eve.token)
        self.assertEqual(other.status, 404)
        self.assertEqual(json.loads(other.body)["code"], "not_found")
        anon = SSE(self.port, f"/jobs/{jid}/events", None)
        self.assertEqual(anon.status, 401)
        ws = WS(self.port, f"/jobs/{jid}/ws", self.eve.token)
        self.assertEqual(ws.status, 404)
        ws.close()
        admin = SSE(self.port, f"/jobs/{jid}/events", self.admin.token)
        self.assertEqual(admin.status, 200)
        self.assertEqual(admin.next()["data"]["status"], "AWAITING_UPLOAD")
        admin.close()

    def test_bad_requests_get_clear_errors(self):
        jid = self.job()["job_id"]
        for bad in ("abc", "12.xyz", "-1", "1.2.3", "99999999999999999999"):
            r = SSE(self.port, f"/jobs/{jid}/events", self.c.token,
                    last_id=bad)
            self.assertEqual(r.status, 400, bad)
            self.assertEqual(json.loads(r.body)["code"], "bad_last_event_id")
        # A plain GET of the WebSocket route says what to do.
        r = self.c.call("GET", f"/jobs/{jid}/ws")
        self.assertEqual(r.status, 426, r)
        self.assertEqual(r.json()["code"], "upgrade_required")
        r = self.c.call("GET", "/jobs/no-such-job/events")
        self.assertEqual(r.status, 404, r)
        # The job is untouched by all of it.
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")

    def test_streams_per_user_are_limited(self):
        # eve's own job and streams: the other tests' streams (demo's) are
        # not counted against her, nor hers against them.
        r = self.eve.call("POST", "/jobs", {"filename": "clip.mp4"})
        self.assertEqual(r.status, 201, r)
        path = f"/jobs/{r.json()['job_id']}/events"
        held = [SSE(self.port, path, self.eve.token) for _ in range(3)]
        for s in held:
            self.assertEqual(s.status, 200)
            self.assertEqual(s.next()["event"], "state")
        over = SSE(self.port, path, self.eve.token)
        self.assertEqual(over.status, 429)
        self.assertEqual(json.loads(over.body)["code"], "too_many_streams")
        self.assertIn("retry-after", over.headers)
        # Another user (an admin here) is not affected; a closed stream
        # frees its place once the server noticed.
        admin = SSE(self.port, path, self.admin.token)
        self.assertEqual(admin.status, 200)
        admin.close()
        held.pop().close()
        end = time.monotonic() + 10
        while True:
            again = SSE(self.port, path, self.eve.token)
            if again.status == 200:
                break
            self.assertEqual(again.status, 429)
            self.assertLess(time.monotonic(), end)
            time.sleep(0.1)
        again.close()
        for s in held:
            s.close()


if __name__ == "__main__":
    h.main(__doc__)
