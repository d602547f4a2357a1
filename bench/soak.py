#!/usr/bin/python3
"""bench/soak.py — memory of one node over time, and per job in flight.

    /usr/bin/python3 bench/soak.py [--binary build/vidflow]
        [--loadgen build/bench/vf-loadgen] [--minutes 30] [--rate 100]
        [--inflight 10000] [--out DIR]

Two measurements, one node each (development config, free ports, a
temporary data folder):

1. Soak: vf-loadgen in open loop at --rate jobs/s (use about half the peak
   rate bench/load.py finds) for --minutes, sampling every second the
   jobs ended, jobs in flight and the node's RSS and CPU (its --series CSV).
   Writes DIR/soak.csv and DIR/soak.png (RSS, its anonymous part and jobs/s
   over time, drawn by this script, no plotting library needed), keeps the
   node's log as DIR/soak-node.log and prints the RSS, its anonymous and its
   file-backed part at the start, the end and their slope over the second
   half (MiB per 10 minutes).
2. In flight: a node whose jobs are a 10-minute `sleep` step on one worker,
   --inflight jobs created and uploaded (vf-loadgen --no-follow): the
   node's RSS idle and with them all in flight, and the difference per
   10,000 jobs. --inflight 0 skips it.

Numbers only; exit 1 only if a run itself broke.
"""

import argparse
import csv
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import vfharness as h  # noqa: E402


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# -- a small PNG line plot (no matplotlib on the machine) ---------------------

FONT = {  # 5x7 glyphs, one string of 5 bits per row
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "/": "00001 00010 00010 00100 01000 01000 10000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 11001 10101 10011 10001 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, rgb):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(rgb)

    def line(self, x0, y0, x1, y1, rgb):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, rgb)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x, y, s, rgb=(0, 0, 0), scale=2):
        for ch in s.upper():
            rows = FONT.get(ch, FONT[" "]).split()
            for r, bits in enumerate(rows):
                for c, b in enumerate(bits):
                    if b == "1":
                        for u in range(scale):
                            for v in range(scale):
                                self.dot(x + c * scale + u, y + r * scale + v,
                                         rgb)
            x += 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1)
                                                * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8,
                                               2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def plot(path, xs, panels):
    """panels: [(label, ys, rgb)], each drawn in its own band."""
    w, band = 900, 260
    c = Canvas(w, band * len(panels) + 40)
    left, right = 90, w - 20
    x_max = max(xs) if xs else 1
    for k, (label, ys, rgb) in enumerate(panels):
        top = 20 + k * band
        bottom = top + band - 50
        lo = min(ys) if ys else 0
        hi = max(ys) if ys else 1
        if hi - lo < 1e-9:
            hi = lo + 1
        lo = min(lo, 0) if label.startswith("JOBS") else lo
        c.line(left, top, left, bottom, (0, 0, 0))
        c.line(left, bottom, right, bottom, (0, 0, 0))
        c.text(left + 10, top, label, rgb)
        c.text(4, top, f"{hi:.0f}")
        c.text(4, bottom - 14, f"{lo:.0f}")
        c.text(right - 80, bottom + 8, f"{x_max:.0f} S")
        c.text(left, bottom + 8, "0")
        prev = None
        for x, y in zip(xs, ys):
            px = left + int((right - left) * x / x_max) if x_max else left
            py = bottom - int((bottom - top - 20) * (y - lo) / (hi - lo))
            if prev:
                c.line(prev[0], prev[1], px, py, rgb)
            prev = (px, py)
    c.png(path)


# -- the runs -----------------------------------------------------------------

def minute_minima(t, ys):
    """(end of each whole minute, lowest y in it)."""
    lows = {}
    for x, y in zip(t, ys):
        m = int(x // 60)
        lows[m] = min(y, lows.get(m, y))
    whole = [m for m in sorted(lows) if (m + 1) * 60 <= t[-1] + 1]
    return [(m + 1) * 60.0 for m in whole], [lows[m] for m in whole]


def second_half_slope(t, ys):
    """Least-squares slope of ys over the second half of t, per second."""
    half = [(x, y) for x, y in zip(t, ys) if x >= t[-1] / 2]
    if len(half) <= 2:
        return 0.0
    mx = sum(x for x, _ in half) / len(half)
    my = sum(y for _, y in half) / len(half)
    den = sum((x - mx) ** 2 for x, _ in half)
    return sum((x - mx) * (y - my) for x, y in half) / den if den else 0.0


def soak(args, binary, clip):
    server = h.Server(binary, config=args.config)
    try:
        series = os.path.join(args.out, "soak.csv")
        argv = [args.loadgen, "--url", server.base, "--file", clip,
                "--pid", str(server.proc.pid), "--rate", str(args.rate),
                "--clients", "16", "--warmup", "0",
                "--duration", str(args.minutes * 60), "--series", series,
                "--server-times", "500"]
        print("$ vf-loadgen " + " ".join(argv[1:]), flush=True)
        if subprocess.run(argv).returncode != 0:
            print(server.log_tail(), file=sys.stderr)
            return 1
    finally:
        server.stop()
        # The node's own account of the run (stalls, refusals) stays with
        # the numbers.
        shutil.copy(server.log_path, os.path.join(args.out, "soak-node.log"))
    rows = list(csv.DictReader(open(series)))
    t = [float(r["t_s"]) for r in rows]
    rss = [float(r["node_rss_mib"]) for r in rows]
    anon = [float(r["node_rss_anon_mib"]) for r in rows]
    mapped = [float(r["node_rss_file_mib"]) for r in rows]
    ended = [int(r["jobs_ended"]) for r in rows]
    rate = [0.0] + [max(0, ended[i] - ended[i - 1]) / max(1e-9, t[i] - t[i - 1])
                    for i in range(1, len(t))]
    png = os.path.join(args.out, "soak.png")
    plot(png, t, [("RSS MIB", rss, (200, 30, 30)),
                  ("ANON MIB", anon, (150, 60, 150)),
                  ("JOBS/S", rate, (30, 90, 200))])
    print(f"\nsoak: {len(t)} samples over {t[-1]:.0f} s at {args.rate} jobs/s")
    # Anonymous pages are the heap (and SQLite's page cache); file pages are
    # the binary, its libraries and mapped files: growth in the first is
    # memory the node holds, in the second pages the kernel may drop.
    for name, ys in (("RSS", rss), ("  anonymous", anon),
                     ("  file-backed", mapped)):
        print(f"  {name} MiB: start {ys[0]:.1f}, peak {max(ys):.1f}, "
              f"end {ys[-1]:.1f}; second half slope "
              f"{second_half_slope(t, ys) * 600:+.2f} MiB per 10 min")
    # The node hands freed heap back once a minute (memory.trim_interval_s),
    # so RSS is a saw-tooth whose teeth are the work of the last minute; the
    # lowest value of each minute is what it keeps.
    mt, floor = minute_minima(t, rss)
    if len(mt) > 2:
        print(f"  RSS floor (lowest each minute) MiB: minute 1 "
              f"{floor[0]:.1f}, last {floor[-1]:.1f}; second half slope "
              f"{second_half_slope(mt, floor) * 600:+.2f} MiB per 10 min")
    print(f"  jobs ended {ended[-1]}, mean {ended[-1] / max(1, t[-1]):.1f}/s")
    print(f"  wrote {series} and {png}")
    return 0


def inflight(args, binary, clip):
    # One worker and a 10-minute sleep step: uploaded jobs stay in flight.
    server = h.Server(binary, config=args.config, workers=1,
                      extra_args=("--pipeline", "sleep", "--sleep-ms",
                                  "600000"))
    try:
        time.sleep(2)
        idle = rss_mib(server.proc.pid)
        argv = [args.loadgen, "--url", server.base, "--file", clip,
                "--pid", str(server.proc.pid), "--rate", "400",
                "--clients", "8", "--warmup", "0", "--duration", "600",
                "--jobs", str(args.inflight), "--no-follow",
                "--server-times", "0"]
        print("$ vf-loadgen " + " ".join(argv[1:]), flush=True)
        if subprocess.run(argv, stdout=subprocess.DEVNULL).returncode != 0:
            print(server.log_tail(), file=sys.stderr)
            return 1
        time.sleep(2)
        full = rss_mib(server.proc.pid)
    finally:
        server.stop()
    per = (full - idle) * 10000 / max(1, args.inflight)
    print(f"\nin flight: RSS idle {idle:.1f} MiB, with {args.inflight} jobs "
          f"in flight {full:.1f} MiB: {per:.1f} MiB per 10,000 jobs")
    return 0


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--loadgen", default=os.path.join(
        HERE, "..", "build", "bench", "vf-loadgen"))
    ap.add_argument("--config", default=h.DEFAULT_CONFIG)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--inflight", type=int, default=10000)
    ap.add_argument("--clip", default="h264_aac.mp4")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    binary = h.resolve_binary(args.binary)
    for what, path in (("vidflow", binary), ("vf-loadgen", args.loadgen)):
        if not os.access(path, os.X_OK):
            print(f"soak.py: {what} not found at {path} (make build)",
                  file=sys.stderr)
            return 1
    os.makedirs(args.out, exist_ok=True)
    clip = h.clip(args.clip)
    rc = 0
    if args.inflight > 0:
        rc |= inflight(args, binary, clip)
    if args.minutes > 0:
        rc |= soak(args, binary, clip)
    return rc


if __name__ == "__main__":
    sys.exit(main())
