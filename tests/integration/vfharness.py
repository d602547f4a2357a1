"""Harness for end-to-end tests and benchmarks that drive the real binary.

Standard library only (run with Debian's /usr/bin/python3). It starts
`vidflow serve` on free ports with a temporary data directory, speaks the
HTTP contract (docs: ../../../shared/ARCHITECTURE.md, "HTTP contract"),
generates media with ffmpeg, reads Prometheus text, and prints the server's
log tail when a test fails.

Deadlines used here are correctness bounds ("this must happen at all"),
never performance assertions.
"""

import argparse
import atexit
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_CONFIG = os.path.join(REPO, "config", "vidflow.conf")
DEFAULT_BINARY_CANDIDATES = (
    os.path.join(REPO, "build", "vidflow"),
    os.path.join(REPO, "build-main", "vidflow"),
)
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
JOB_FIELDS = ("job_id", "status", "created_at", "updated_at", "s3_bucket",
              "s3_key", "filename", "content_type", "attempts", "step",
              "next_attempt_at", "error_code", "error_message", "priority",
              "outputs", "object")
ISO_UTC = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$")
# The webhook secret every test node gets (webhook.token): the route exists
# only with one. Tests of the webhook's defences pass their own.
WEBHOOK_TOKEN = "test-webhook-secret-0123456789"
UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# --- process-wide scratch space -------------------------------------------------

_scratch = None
_scratch_lock = threading.Lock()
_servers = []          # every process started, for log tails on failure
keep_scratch = False   # set by --keep or a failed run


def scratch_dir():
    """One temporary directory per process; removed at exit unless kept."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = tempfile.mkdtemp(prefix="vf-e2e-")
            atexit.register(_cleanup_scratch)
        return _scratch


def _cleanup_scratch():
    for proc in list(_servers):
        proc.kill_if_running()
    if _scratch and not keep_scratch:
        shutil.rmtree(_scratch, ignore_errors=True)
    elif _scratch:
        print(f"vfharness: kept {_scratch}", file=sys.stderr)


_handed_out = set()


def free_port():
    """A TCP port that was free a moment ago (bind port 0, read, close),
    never one this process handed out before: the kernel may give the same
    ephemeral port to two binds in a row once the first socket is closed
    (seen in CI: a coordinator got one port as store and cluster port)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError("free_port: no new free port after 100 tries")


def wait_port(port, deadline_s, proc=None):
    """Waits until 127.0.0.1:port accepts connections."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# --- HTTP -------------------------------------------------------------------------

class Response:
    """Status, headers (lower-case names) and body of one HTTP exchange."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(
                f"HTTP {self.status}: body is not JSON ({e}): {self.text[:500]!r}")

    def __repr__(self):
        return f"<HTTP {self.status} {self.text[:300]!r}>"


def request(method, url, body=None, headers=None, timeout=30):
    """One HTTP request; never raises for an HTTP status, only for I/O errors.

    `body` may be bytes, str, or any JSON-serializable value (sent as JSON).
    Uses http.client directly so that a server answering early (413 before
    the body is read) still yields its response.
    """
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray, str)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                      timeout=timeout)
    try:
        send_error = None
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError) as e:
            send_error = e  # the server may have answered and closed early
        try:
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.HTTPException, OSError, AttributeError) as e:
            # AttributeError: http.client closed the socket when the send
            # failed (a peer killed mid-request) and then reads from None.
            if send_error is not None:
                raise send_error
            if isinstance(e, AttributeError):
                raise ConnectionResetError(f"connection lost: {e}") from e
            raise
        return Response(resp.status, resp.getheaders(), data)
    finally:
        conn.close()


class Client:
    """Speaks vidflow's HTTP API at `base` (e.g. http://127.0.0.1:8000)."""

    def __init__(self, base, token=None):
        self.base = base.rstrip("/")
        self.token = token

    def _auth(self, token):
        token = self.token if token is None else token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method, path, body=None, token=None, headers=None,
             timeout=30):
        h = self._auth(token)
        h.update(headers or {})
        return request(method, self.base + path, body, h, timeout)

    def login(self, username="demo", password="demo"):
        r = self.call("POST", "/auth/login",
                      {"username": username, "password": password}, token="")
        if r.status != 200:
            raise AssertionError(f"login as {username} failed: {r!r}")
        self.token = r.json()["access_token"]
        return self.token

    def create_job(self, filename, content_type=None):
        body = {"filename": filename}
        if content_type:
            body["content_type"] = content_type
        r = self.call("POST", "/jobs", body)
        if r.status != 201:
            raise AssertionError(f"POST /jobs {body} → {r!r}, expected 201")
        return r.json()

    def get_job(self, job_id):
        r = self.call("GET", f"/jobs/{job_id}")
        if r.status != 200:
            raise AssertionError(f"GET /jobs/{job_id} → {r!r}, expected 200")
        return r.json()

    def result(self, job_id):
        return self.call("GET", f"/jobs/{job_id}/result")

    def history(self, limit=200):
        r = self.call("GET", f"/history?limit={limit}")
        if r.status != 200:
            raise AssertionError(f"GET /history?limit={limit} → {r!r}")
        return r.json()["items"]

    def metrics(self):
        r = self.call("GET", "/metrics", token="")
        if r.status != 200:
            raise AssertionError(f"GET /metrics → {r!r}")
        return r.text

    def webhook(self, body, headers=None, secret=WEBHOOK_TOKEN):
        """POSTs a MinIO notification as MinIO does: JSON, with the webhook
        secret as bearer token (`secret=None`: no credentials)."""
        h = {"Content-Type": "application/json"}
        if secret:
            h["Authorization"] = f"Bearer {secret}"
        h.update(headers or {})
        return self.call("POST", "/minio/webhook", body, token="", headers=h)

    def wait_status(self, job_id, statuses=TERMINAL, deadline_s=60,
                    interval_s=0.05):
        """Polls GET /jobs/{id} until its status is in `statuses`."""
        if isinstance(statuses, str):
            statuses = (statuses,)
        end = time.monotonic() + deadline_s
        job = None
        while True:
            job = self.get_job(job_id)
            if job["status"] in statuses:
                return job
            if job["status"] in TERMINAL or time.monotonic() > end:
                raise AssertionError(
                    f"job {job_id}: wanted status in {statuses} within "
                    f"{deadline_s}s, last seen {json.dumps(job)}")
            time.sleep(interval_s)


def call_in_background(client, method, path, timeout=60):
    """Starts `client.call(method, path)` on a thread (a request the node
    holds, e.g. GET /jobs/{id}?wait=); returns a function that waits for it
    and gives (response, seconds it took)."""
    answer = {}

    def run():
        t = time.monotonic()
        answer["resp"] = client.call(method, path, timeout=timeout)
        answer["s"] = time.monotonic() - t
    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join():
        thread.join(timeout + 5)
        if "resp" not in answer:
            raise AssertionError(f"{method} {path}: no answer in {timeout} s")
        return answer["resp"], answer["s"]
    return join


def upload(upload_url, data, content_type=None, timeout=60):
    """PUTs raw bytes to a presigned URL, as `curl -X PUT --upload-file`."""
    headers = {"Content-Length": str(len(data))}
    if content_type:
        headers["Content-Type"] = content_type
    return request("PUT", upload_url, data, headers, timeout)


def tamper_url(url):
    """Returns the URL with the last hex digit of X-Amz-Signature changed."""
    m = re.search(r"(X-Amz-Signature=[0-9a-f]*)([0-9a-f])", url)
    if not m:
        raise AssertionError(f"no X-Amz-Signature in upload_url {url}")
    flipped = "0" if m.group(2) != "0" else "1"
    return url[:m.start(2)] + flipped + url[m.end(2):]


def minio_event(bucket, key, version_id=None, etag="", size=0,
                event_name="s3:ObjectCreated:Put"):
    """A MinIO webhook body for one object; keys URL-encoded as MinIO does
    (`/` as %2F, space as `+`)."""
    obj = {"key": urllib.parse.quote_plus(key, safe=""), "size": size,
           "eTag": etag.strip('"'), "contentType": "application/octet-stream",
           "userMetadata": {}, "sequencer": "17A1B2C3D4E5F6A7"}
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "EventName": event_name,
        "Key": f"{bucket}/{key}",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3",
            "awsRegion": "us-east-1",
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                       time.gmtime()),
            "eventName": event_name,
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"principalId": "minioadmin",
                                  "region": "us-east-1",
                                  "sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "17A1B2C3D4E5F6A7"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                   "bucket": {"name": bucket,
                              "ownerIdentity": {"principalId": "minioadmin"},
                              "arn": f"arn:aws:s3:::{bucket}"},
                   "object": obj},
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "vf-e2e"},
        }],
    }


# --- Prometheus text ------------------------------------------------------------

_SAMPLE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] for every sample line."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        labels = dict(_LABEL.findall(m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def metric_families(text):
    """Names declared by `# TYPE` lines plus names of samples."""
    names = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    names.update(name for name, _, _ in parse_metrics(text))
    return names


def metric_value(text, name, **labels):
    """Sum of the samples named `name` whose labels include `labels`
    (0 when none match). Label values compare case-insensitively."""
    total = 0.0
    for n, ls, v in parse_metrics(text):
        if n != name:
            continue
        if all(ls.get(k, "").lower() == str(want).lower()
               for k, want in labels.items()):
            total += v
    return total


# --- media ------------------------------------------------------------------------

_clip_lock = threading.Lock()

# name → ffmpeg arguments after the inputs; all tiny and quick to make.
_CLIPS = {
    "h264_aac.mp4": ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
                     "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                     "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                     "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                     "-shortest", "-movflags", "+faststart"],
    "h264_aac_320.mp4": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                         "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
                         "-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast",
                         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                         "-shortest"],
    "h264_only.mp4": ["-f", "lavfi", "-i", "smptebars=size=176x144:rate=15",
                      "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                      "-pix_fmt", "yuv420p"],
    "vp9_opus.webm": ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
                      "-f", "lavfi", "-i", "sine=frequency=550:sample_rate=48000",
                      "-t", "1", "-c:v", "libvpx-vp9", "-deadline", "realtime",
                      "-cpu-used", "8", "-b:v", "100k", "-c:a", "libopus",
                      "-shortest"],
    "audio_only.m4a": ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                       "-t", "1", "-c:a", "aac", "-b:a", "64k"],
    # 16:9 with sound, 3 s at 25 fps, a keyframe every second: for outputs.
    "h264_aac_640x360.mp4": ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                             "-t", "3", "-c:v", "libx264", "-preset", "ultrafast",
                             "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
                             "-b:a", "96k", "-shortest"],
    "audio_only.mp3": ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100",
                       "-t", "1", "-c:a", "libmp3lame", "-b:a", "64k"],
    # Still pictures (image assets): 4:3, one frame each.
    "picture.png": ["-f", "lavfi", "-i", "color=c=red:size=400x300",
                    "-frames:v", "1"],
    "picture.jpg": ["-f", "lavfi", "-i", "testsrc=size=320x240",
                    "-frames:v", "1"],
    # 20 s of 720p: a render is still encoding when a test acts on it.
    "long_720p.mp4": ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                      "-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
                      "-pix_fmt", "yuv420p"],
}


def clip(name):
    """Path of a generated clip (see _CLIPS), made once per process.
    `random.bin` is 64 KiB of fixed pseudo-random bytes (SHA-256 of a
    counter) that are not media. Not os.urandom: about 1 in 100 random
    64 KiB files is taken for media by libavformat (h263, lrc; ffprobe on
    300 of them), and a test expecting FAILED then saw SUCCEEDED. These
    bytes are the same in every run; ffprobe refuses them."""
    path = os.path.join(scratch_dir(), "clips", name)
    with _clip_lock:
        if os.path.exists(path):
            return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if name == "random.bin":
            blocks = (hashlib.sha256(b"vidflow not-media %d" % i).digest()
                      for i in range(64 * 1024 // 32))
            with open(path, "wb") as f:
                f.write(b"".join(blocks))
            return path
        if name not in _CLIPS:
            raise KeyError(f"unknown clip {name}")
        if shutil.which("ffmpeg") is None:
            raise AssertionError("ffmpeg is not installed (deploy/install-deps.sh --test)")
        tmp = path + ".tmp" + os.path.splitext(name)[1]
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
               *_CLIPS[name], tmp]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"ffmpeg failed for {name}: {r.stderr}")
        os.rename(tmp, path)
        return path


def ffprobe(path):
    """ffprobe's JSON for a file (format + streams)."""
    r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json",
                        "-show_format", "-show_streams", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ffprobe failed on {path}: {r.stderr}")
    return json.loads(r.stdout)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# --- processes ------------------------------------------------------------------

class Process:
    """A child process whose output goes to a log file in the scratch dir."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(
            scratch_dir(), f"{name}-{len(_servers)}.log")
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=full_env,
                                     cwd=cwd, start_new_session=True)
        # For the exit audit (see `exit_problems`): the signal `stop` sent
        # while the process ran, what it exited with, and what exit the test
        # expects instead of 0 (`expect_exit`).
        self.signalled = None
        self.exit_rc = None
        self.expected_rc = 0
        _servers.append(self)

    def is_vidflow(self):
        """Whether this runs the vidflow binary (also inside `ip netns
        exec`), i.e. its exit code after SIGTERM/SIGINT is ours to check."""
        return any(os.path.basename(str(a)) == "vidflow"
                   or (binary and str(a) == binary) for a in self.argv)

    def expect_exit(self, rc):
        """Declares that stopping this process with SIGTERM/SIGINT should
        end in `rc` rather than 0 (checked by the exit audit)."""
        self.expected_rc = rc

    def poll(self):
        return self.proc.poll()

    def log_tail(self, lines=80):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(data[-lines:])

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, deadline_s=20):
        """Sends `sig`, waits; returns the exit code (kills after the
        deadline and returns None then)."""
        if self.proc.poll() is None:
            self.signalled = sig
            self.proc.send_signal(sig)
            try:
                self.proc.wait(deadline_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                self.exit_rc = "killed after the stop deadline"
                return None
            self.exit_rc = self.proc.returncode
        self._log.close()
        return self.proc.returncode

    def kill_if_running(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_healthy(proc, base, deadline_s=30):
    """Waits until `proc` (a Process) answers 200 on `base`/healthz; fails
    with its log tail if it exits or does not answer in time."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited:\n" + proc.log_tail())
        try:
            if request("GET", base + "/healthz", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{proc.name} not healthy:\n" + proc.log_tail())


class Server(Process):
    """`vidflow serve` on free ports with its own data directory."""

    def __init__(self, binary, config=None, extra_args=(),
                 env=None, data_dir=None, http_port=None, store_port=None,
                 workers=None, name="vidflow", start_deadline_s=30):
        config = config or globals()["config"]
        if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            raise AssertionError(f"vidflow binary not found or not executable: {binary}")
        if not os.path.isfile(config):
            raise AssertionError(f"config file not found: {config}")
        self.http_port = http_port or free_port()
        self.store_port = store_port or free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="data-",
                                                     dir=scratch_dir())
        argv = [binary, "serve", "--config", config,
                "--http-port", str(self.http_port),
                "--store-port", str(self.store_port),
                "--data-dir", self.data_dir]
        if "--public-url" not in extra_args:
            # the config may name a fixed public URL; ours is on a free port
            argv += ["--public-url", f"http://127.0.0.1:{self.store_port}"]
        if workers is not None:
            argv += ["--workers", str(workers)]
        # Tests drive many requests from one address; a test of the rate
        # limit passes its own --rate-limit, which comes later and wins.
        argv += ["--rate-limit", "0"]
        if "--webhook-token" not in extra_args:
            argv += ["--webhook-token", WEBHOOK_TOKEN]
        argv += list(extra_args)
        super().__init__(name, argv, env=env)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self._wait_healthy(start_deadline_s)

    def _wait_healthy(self, deadline_s):
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"vidflow exited with {self.proc.returncode} during start-up "
                    f"({' '.join(self.argv)})\n--- log tail ---\n{self.log_tail()}")
            try:
                r = request("GET", self.base + "/healthz", timeout=2)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(
            f"vidflow not healthy within {deadline_s}s (last: {last!r})\n"
            f"--- log tail ---\n{self.log_tail()}")

    def client(self, login=True):
        c = Client(self.base)
        if login:
            c.login()
        return c


# --- running a test module --------------------------------------------------------

binary = None  # set by main()
config = DEFAULT_CONFIG  # main()'s --config


def resolve_binary(arg=None):
    """--binary, else $VIDFLOW_BINARY, else build/vidflow in the repo."""
    if arg:
        return os.path.abspath(arg)
    if os.environ.get("VIDFLOW_BINARY"):
        return os.path.abspath(os.environ["VIDFLOW_BINARY"])
    for cand in DEFAULT_BINARY_CANDIDATES:
        if os.path.exists(cand):
            return cand
    return DEFAULT_BINARY_CANDIDATES[0]


SKIP_EXIT_CODE = 77

# What AddressSanitizer, LeakSanitizer and UBSan print; a server log holding
# one of them fails the test, whatever its exit code was.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "SUMMARY: UndefinedBehaviorSanitizer",
                     "SUMMARY: AddressSanitizer", ": runtime error: ")


def exit_problems():
    """The exit audit, run by `main` after the tests: vidflow processes a
    test forgot are stopped with SIGTERM first. Then every process log with
    a sanitizer report, and every vidflow process that did not exit 0 (or
    its `expect_exit` code) after SIGTERM/SIGINT, is a problem: leaks and
    errors found at shutdown must fail the test they happen in."""
    problems = []
    for p in _servers:
        if p.poll() is None and p.is_vidflow():
            p.stop(signal.SIGTERM, deadline_s=60)
        try:
            text = p.log_text()
        except OSError:
            text = ""
        for marker in SANITIZER_MARKERS:
            at = text.find(marker)
            if at >= 0:
                start = text.rfind("\n", 0, max(0, at - 200)) + 1
                problems.append(f"{p.name}: sanitizer report in {p.log_path}:"
                                f"\n{text[start:start + 3000]}")
                break
        if (p.is_vidflow() and p.signalled in (signal.SIGTERM, signal.SIGINT)
                and p.exit_rc != p.expected_rc):
            problems.append(f"{p.name}: exited {p.exit_rc} after "
                            f"{signal.Signals(p.signalled).name}, expected "
                            f"{p.expected_rc} (log: {p.log_path})")
    return problems


def main(description):
    """Parses --binary/--keep, runs unittest; prints server log tails when
    anything failed."""
    global binary, config, keep_scratch
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments go to unittest (e.g. a test name, -k PATTERN).")
    parser.add_argument("--binary", help="path of the vidflow binary "
                        "(default: $VIDFLOW_BINARY or build/vidflow)")
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="config file (default: config/vidflow.conf)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory (logs, data)")
    args, rest = parser.parse_known_args()
    binary = resolve_binary(args.binary)
    keep_scratch = args.keep
    config = os.path.abspath(args.config)
    if not os.path.exists(binary):
        print(f"FAIL: vidflow binary not found at {binary} "
              f"(pass --binary or set VIDFLOW_BINARY)", file=sys.stderr)
        sys.exit(1)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    ok = prog.result.wasSuccessful()
    audit = exit_problems()
    if audit:
        ok = False
        print("\nFAIL: the exit audit found " + str(len(audit))
              + " problem(s):\n" + "\n".join(audit), file=sys.stderr)
    if ok and prog.result.skipped:
        # Skipped is not passed: CTest shows exit 77 as "Skipped", and
        # tests/run-ctest.sh fails the run unless the skip is declared
        # expected on this machine (tests/expected-skips).
        for test, why in prog.result.skipped:
            print(f"SKIPPED: {test.id()}: {why}", file=sys.stderr)
        sys.exit(SKIP_EXIT_CODE)
    if not ok:
        keep_scratch = True
        for p in _servers:
            print(f"\n===== log tail: {p.name} ({p.log_path}) "
                  f"rc={p.proc.poll()} =====\n{p.log_tail()}",
                  file=sys.stderr)
    sys.exit(0 if ok else 1)


def run_parallel(fn, items, max_workers=16):
    """Runs fn over items in threads; returns results in order; re-raises the
    first exception."""
    with concurrent.futures.ThreadPoolExecutor(max_workers) as pool:
        return list(pool.map(fn, items))
