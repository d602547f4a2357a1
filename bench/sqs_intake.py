#!/usr/bin/python3
"""Object events from SQS vs the webhook, in s3 mode, on this machine;
and AWS mode whole (SQS in, DynamoDB state).

    /usr/bin/python3 bench/sqs_intake.py --binary build/vidflow
        [--events 500] [--pipeline probe,summarize]

Starts s3rver (the store, no notifications of its own), local-aws-sqs
(an SQS emulator, with its redrive DLQ) and dynalite (a DynamoDB
emulator), creates N jobs and uploads their objects, restarts the
coordinator, then delivers one ObjectCreated event per object and times
it until every event is durable and every job has ended:

  webhook  the events POSTed to /minio/webhook, 10 records a request,
           8 senders (the direct path: SQLite, no queue)
  sqs      N messages sent to the queue (botocore, batches of 10, 8
           senders); the coordinator's SQS source receives them in batches
           of 10 and deletes each once its event is recorded (SQLite)
  aws      as sqs, with the state in DynamoDB (`--store-backend
           dynamodb`): S3 -> SQS -> vidflow -> DynamoDB

"events/s" is events made durable (SQS: deleted after the claim
committed; webhook: answered 200) per second; "jobs/s" is jobs ended
(probe and summary done) per second. Numbers only; never fails on speed.
Against real SQS, expect the SQS column to be bounded by round trips
(1 receive + 1 delete batch per 10 messages, 10-30 ms each in-region) and
by the number of receivers rather than by vidflow: one source does about
300-1000 messages/s; the emulator here answers in well under 1 ms.
Needs node with s3rver, local-aws-sqs and dynalite (deploy/install-deps.sh
--test).
"""

import argparse
import concurrent.futures
import json
import os
import signal
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
from e2e_s3rver import start_s3rver, ACCESS_KEY, SECRET_KEY  # noqa: E402
from e2e_sqs import Dynalite, Sqs, AWS_ENV  # noqa: E402


def record(bucket, key, size, etag):
    return {"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket},
                   "object": {"key": urllib.parse.quote_plus(key, safe="/"),
                              "size": size, "eTag": etag}}}


def prepare(args, s3_port, n, state):
    """A data dir (and `state`, extra arguments naming where the state
    lives) with n jobs whose objects are in s3rver; their records."""
    data = tempfile.mkdtemp(prefix="bench-data-", dir=h.scratch_dir())
    ports = (h.free_port(), h.free_port())
    node_args = state + ["--store-mode", "s3", "--store-endpoint",
                 f"http://127.0.0.1:{s3_port}", "--public-url",
                 f"http://127.0.0.1:{s3_port}", "--bucket", "uploads",
                 "--region", "us-east-1", "--access-key", ACCESS_KEY,
                 "--secret-key", SECRET_KEY, "--pipeline", args.pipeline,
                 "--log-level", "warning",
                 "--jobs-in-flight-per-user", "0"]
    server = h.Server(args.binary, env=AWS_ENV, data_dir=data,
                      http_port=ports[0], store_port=ports[1],
                      extra_args=node_args)
    c = server.client()
    body = h.read_bytes(h.clip("h264_aac.mp4"))

    def one(i):
        job = c.create_job(f"bench {i}.mp4", "video/mp4")
        r = h.upload(job["upload_url"], body, "video/mp4")
        if r.status != 200:
            raise SystemExit(f"upload failed: {r!r}")
        key = urllib.parse.unquote(urllib.parse.urlparse(
            job["upload_url"]).path.split("/", 2)[2])
        etag = (r.headers.get("ETag") or r.headers.get("etag") or "").strip(
            '"')
        return job["job_id"], record("uploads", key, len(body), etag)
    made = h.run_parallel(one, range(n), max_workers=8)
    server.stop()
    return data, ports, node_args, made


def ended(client, ids):
    m = client.metrics()
    return h.metric_value(m, "vidflow_jobs_ended_total")


def run(args, s3_port, sqs, ddb, mode):
    state = []
    if mode == "aws":
        state = ["--store-backend", "dynamodb", "--dynamodb-endpoint",
                 ddb.endpoint, "--dynamodb-table", "bench-aws",
                 "--dynamodb-create-table", "1"]
    data, ports, node_args, made = prepare(args, s3_port, args.events,
                                           state)
    if mode in ("sqs", "aws"):
        node_args = node_args + ["--sqs-queue-url", sqs.queue,
                                 "--sqs-wait-s", "1"]
    server = h.Server(args.binary, env=AWS_ENV, data_dir=data,
                      http_port=ports[0], store_port=ports[1],
                      extra_args=node_args)
    c = server.client()
    recs = [r for _, r in made]
    batches = [recs[i:i + 10] for i in range(0, len(recs), 10)]
    durable_at = None
    t0 = time.monotonic()
    if mode != "webhook":
        def send(batch):
            sqs.send_batch([json.dumps({"Records": [r]}) for r in batch])
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(send, batches))
    else:
        def post(batch):
            r = c.webhook({"EventName": "s3:ObjectCreated:Put",
                           "Key": "", "Records": batch})
            if r.status != 200:
                raise SystemExit(f"webhook: {r!r}")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(post, batches))
        durable_at = time.monotonic()
    while True:
        m = c.metrics()
        if mode != "webhook" and durable_at is None and h.metric_value(
                m, "vidflow_sqs_messages_total",
                outcome="deleted") >= args.events:
            durable_at = time.monotonic()
        done = h.metric_value(m, "vidflow_jobs_ended_total")
        if done >= args.events and durable_at is not None:
            break
        if time.monotonic() - t0 > 600:
            raise SystemExit(f"{mode}: only {done} of {args.events} jobs "
                             "ended within 600 s")
        time.sleep(0.05)
    ended_at = time.monotonic()
    ok = h.metric_value(m, "vidflow_jobs_ended_total", status="SUCCEEDED")
    server.stop()
    return {"events/s": args.events / (durable_at - t0),
            "jobs/s": args.events / (ended_at - t0),
            "succeeded": ok, "seconds": ended_at - t0}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=None)
    p.add_argument("--events", type=int, default=500)
    p.add_argument("--pipeline", default="probe,summarize")
    args = p.parse_args()
    args.binary = h.resolve_binary(args.binary)
    sqs = Sqs()
    ddb = Dynalite()
    s3_port = h.free_port()
    s3rver = start_s3rver(s3_port, "")
    try:
        rows = {m: run(args, s3_port, sqs, ddb, m)
                for m in ("webhook", "sqs", "aws")}
    finally:
        s3rver.stop()
        sqs.stop()
        ddb.stop()
    print(f"\n{args.events} events, pipeline {args.pipeline}, s3 mode "
          f"(s3rver); webhook and sqs: SQLite; aws: SQS + DynamoDB; "
          f"SQS = local-aws-sqs, DynamoDB = dynalite (emulators)")
    print(f"{'intake':10s} {'events/s':>10s} {'jobs/s':>10s} "
          f"{'seconds':>9s} {'succeeded':>10s}")
    for mode, r in rows.items():
        print(f"{mode:10s} {r['events/s']:10.0f} {r['jobs/s']:10.0f} "
              f"{r['seconds']:9.2f} {r['succeeded']:10.0f}")


if __name__ == "__main__":
    try:
        main()
    finally:
        h._cleanup_scratch()
