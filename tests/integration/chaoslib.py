"""Helpers for the duplicate-storm and chaos end-to-end tests.

Standard library only (Debian's /usr/bin/python3); builds on vfharness.py
(which it does not change): a node that can be killed with SIGKILL and
restarted on the same ports and data directory, client calls retried
through kills, the attempt ledger (GET /jobs/{id}/attempts), small media
made once with ffmpeg, and a reproducible random seed.
"""

import collections
import http.client
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

# --- command line -----------------------------------------------------------------


def pop_option(name, default=None, convert=str):
    """Removes `--name VALUE` / `--name=VALUE` from sys.argv (vfharness and
    unittest must not see it) and returns the value, or `default`."""
    flag = "--" + name
    argv = sys.argv
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i:i + 2]
            return convert(value)
        if arg.startswith(flag + "="):
            del argv[i]
            return convert(arg[len(flag) + 1:])
    return default


def seed_from_argv():
    """--seed N, else a fresh random seed; printed so a failure can be rerun."""
    seed = pop_option("seed", None, int)
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    print(f"random seed: {seed} (rerun with --seed {seed})", flush=True)
    return seed


# --- media ------------------------------------------------------------------------

_media_lock = threading.RLock()

# name → (ffmpeg arguments after the inputs, content type); 1 s each.
SMALL_VIDEOS = {
    "tiny_h264_aac.mp4": (["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
                           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                           "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
                           "-shortest"], "video/mp4"),
    "tiny_h264_bars.mp4": (["-f", "lavfi", "-i", "smptebars=size=176x144:rate=15",
                            "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                            "-pix_fmt", "yuv420p"], "video/mp4"),
    "tiny_h264_320.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                           "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
                           "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
                           "-shortest", "-movflags", "+faststart"], "video/mp4"),
    "tiny_h264_mandel.mp4": (["-f", "lavfi", "-i", "mandelbrot=size=128x96:rate=20",
                              "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                              "-pix_fmt", "yuv420p"], "video/mp4"),
}

# name → content type the client claims (wrongly) for files that are no video.
NOT_VIDEOS = {
    "noise.bin": "video/mp4",
    # The first 1.5 KiB of an mp4 whose index (moov) is at the end. (A text
    # file would not do: libavformat reads text as the `tty` format.)
    "truncated.mp4": "video/mp4",
}


def media(name):
    """Path of a small input made once per process (see SMALL_VIDEOS and
    NOT_VIDEOS) in the harness's scratch directory."""
    path = os.path.join(h.scratch_dir(), "chaos-media", name)
    with _media_lock:
        if os.path.exists(path):
            return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if name == "noise.bin":
            with open(path, "wb") as f:
                f.write(random.Random(7).randbytes(48 * 1024))
            return path
        if name == "truncated.mp4":
            with open(media("tiny_h264_aac.mp4"), "rb") as f:
                head = f.read(1536)
            with open(path, "wb") as f:
                f.write(head)
            return path
        if name not in SMALL_VIDEOS:
            raise KeyError(f"unknown input {name}")
        if shutil.which("ffmpeg") is None:
            raise AssertionError("ffmpeg is not installed "
                                 "(deploy/install-deps.sh --test)")
        tmp = path + ".tmp" + os.path.splitext(name)[1]
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
               *SMALL_VIDEOS[name][0], tmp]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"ffmpeg failed for {name}: {r.stderr}")
        os.rename(tmp, path)
        return path


def content_type(name):
    if name in SMALL_VIDEOS:
        return SMALL_VIDEOS[name][1]
    return NOT_VIDEOS[name]


_probe_cache = {}


def ffprobe_cached(path):
    with _media_lock:
        if path not in _probe_cache:
            _probe_cache[path] = h.ffprobe(path)
        return _probe_cache[path]


def compare_metadata(meta, path):
    """Differences between a result's `metadata` and ffprobe of `path`
    (format fields and stream codecs); [] when they agree."""
    want = ffprobe_cached(path)
    problems = []
    fmt, wfmt = meta.get("format") or {}, want["format"]
    if fmt.get("format_name") != wfmt["format_name"]:
        problems.append(f"format_name {fmt.get('format_name')!r} != "
                        f"{wfmt['format_name']!r}")
    try:
        if abs(float(fmt.get("duration")) - float(wfmt["duration"])) > 0.02:
            problems.append(f"duration {fmt.get('duration')} != "
                            f"{wfmt['duration']}")
    except (TypeError, ValueError):
        problems.append(f"duration {fmt.get('duration')!r} unreadable")
    for key in ("size", "nb_streams"):
        try:
            if int(fmt.get(key)) != int(wfmt[key]):
                problems.append(f"{key} {fmt.get(key)} != {wfmt[key]}")
        except (TypeError, ValueError):
            problems.append(f"{key} {fmt.get(key)!r} unreadable")
    streams = meta.get("streams") or []
    if len(streams) != len(want["streams"]):
        problems.append(f"{len(streams)} streams, ffprobe sees "
                        f"{len(want['streams'])}")
    else:
        for got, exp in zip(streams, want["streams"]):
            for key in ("codec_type", "codec_name"):
                if got.get(key) != exp.get(key):
                    problems.append(f"stream {exp['index']} {key} "
                                    f"{got.get(key)!r} != {exp.get(key)!r}")
    return problems


# --- retried client calls ---------------------------------------------------------

RETRY_STATUSES = (502, 503, 504)


class Retries:
    """Thread-safe count of client retries, by what was retried."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_what = collections.Counter()
        self.reasons = collections.Counter()

    def add(self, what, reason):
        with self._lock:
            self.by_what[what] += 1
            self.reasons[reason] += 1

    @property
    def total(self):
        with self._lock:
            return sum(self.by_what.values())

    def summary(self):
        with self._lock:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_what.items()))
            why = ", ".join(f"{k} {v}" for k, v in self.reasons.most_common(6))
            return f"{sum(self.by_what.values())} ({parts or 'none'}; {why or '-'})"


def retrying(call, what, retries, deadline_s=300, rng=None):
    """Runs `call()` (an HTTP exchange returning a vfharness Response) until
    it neither raises a connection error nor answers 502/503/504, with
    jittered exponential backoff; returns the response. Fails after
    `deadline_s`."""
    rng = rng or random
    end = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        try:
            r = call()
            if r.status not in RETRY_STATUSES:
                return r
            reason = f"HTTP {r.status}"
        except (OSError, http.client.HTTPException) as e:
            reason = type(e).__name__
        if time.monotonic() > end:
            raise AssertionError(f"{what}: still failing after {deadline_s}s "
                                 f"(last: {reason})")
        retries.add(what, reason)
        time.sleep(delay * rng.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)


# --- the attempt ledger -----------------------------------------------------------


def attempts(client, job_id):
    """Items of GET /jobs/{id}/attempts; AssertionError naming the problem
    when the route is missing or answers something else."""
    r = client.call("GET", f"/jobs/{job_id}/attempts")
    if r.status == 404 and "no route" in r.text:
        raise AssertionError(
            f"GET /jobs/{job_id}/attempts → 404 'no route': this vidflow "
            f"binary has no attempt ledger route yet")
    if r.status != 200:
        raise AssertionError(f"GET /jobs/{job_id}/attempts → {r!r}")
    body = r.json()
    if body.get("job_id") != job_id or not isinstance(body.get("items"), list):
        raise AssertionError(f"GET /jobs/{job_id}/attempts: unexpected shape "
                             f"{str(body)[:300]}")
    return body["items"]


def ok_counts(items, version, series=None):
    """Counter kind → number of ok ledger entries for `version` (and
    `series`; the highest series seen for that version when None)."""
    mine = [it for it in items if it.get("object_version") == version]
    if series is None:
        series = max((int(it.get("series", 0)) for it in mine), default=0)
    return collections.Counter(
        it.get("kind") for it in mine
        if it.get("ok") is True and int(it.get("series", 0)) == series)


# --- a node that is killed and restarted ------------------------------------------


class Node:
    """`vidflow serve` on fixed ports and a data directory that survive
    SIGKILL; `kill()` then `start()` brings it back as the same node."""

    def __init__(self, binary, extra_args=(), start_deadline_s=60):
        self.binary = binary
        self.extra_args = tuple(extra_args)
        self.start_deadline_s = start_deadline_s
        self.http_port = h.free_port()
        self.store_port = h.free_port()
        self.data_dir = tempfile.mkdtemp(prefix="chaos-data-",
                                         dir=h.scratch_dir())
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.server = None
        self.runs = []          # every h.Server started, oldest first
        self.starts = 0
        self.kills = 0

    def start(self):
        self.server = h.Server(self.binary, extra_args=self.extra_args,
                               data_dir=self.data_dir,
                               http_port=self.http_port,
                               store_port=self.store_port,
                               name=f"vidflow-run{self.starts}",
                               start_deadline_s=self.start_deadline_s)
        self.runs.append(self.server)
        self.starts += 1
        return self.server

    def kill(self):
        """SIGKILL (no chance to clean up) and reap."""
        rc = self.server.stop(signal.SIGKILL, deadline_s=10)
        self.kills += 1
        return rc

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            return self.server.stop()
        return None

    def alive(self):
        return self.server is not None and self.server.poll() is None
