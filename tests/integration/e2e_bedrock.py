#!/usr/bin/env python3
"""Bedrock summaries and the AWS credential chain, end to end.

`vidflow serve --summarizer bedrock` against a bedrock-runtime double on
127.0.0.1 (an emulator: Bedrock cannot run here; see awsfakes.py). The
double checks every request's SigV4 signature with botocore, AWS's own
implementation, not ours, and answers in Bedrock's shapes. Credentials come
from each source of the chain in turn: environment (with a session token),
the shared credentials file with a profile, an ECS container credentials
endpoint (token-protected, short-lived keys that must be refreshed), and
EC2 instance metadata with IMDSv2 only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfharness as h  # noqa: E402
import awsfakes as fx  # noqa: E402

ANTHROPIC = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN = "amazon.titan-text-express-v1"
REGION = "eu-west-1"

# Whatever AWS settings the machine running the tests has must not reach
# the node: blank is unset for vidflow.
CLEAN_ENV = {k: "" for k in (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT")}


def node_env(**extra):
    env = dict(CLEAN_ENV)
    env["HOME"] = tempfile.mkdtemp(prefix="home-", dir=h.scratch_dir())
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


def start(fake, env, model=ANTHROPIC, extra=()):
    return h.Server(h.binary, env=env, extra_args=[
        "--summarizer", "bedrock", "--bedrock-endpoint", fake.url,
        "--bedrock-region", REGION, "--bedrock-model-id", model,
        "--bedrock-timeout-ms", "20000", *extra])


def submit(client, name="clip.mp4"):
    job = client.create_job(name, "video/mp4")
    r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")))
    if r.status != 200:
        raise AssertionError(f"upload of {name} → {r!r}")
    return job["job_id"]


class BedrockCase(unittest.TestCase):

    def run_job(self, server, name="clip.mp4"):
        """One job to SUCCEEDED; returns its summary."""
        c = server.client()
        job_id = submit(c, name)
        job = c.wait_status(job_id, h.TERMINAL, deadline_s=90)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        res = c.result(job_id)
        self.assertEqual(res.status, 200, res)
        self.last_job_id = job_id
        return res.json()["summary"]

    def assert_all_verified(self, fake):
        for rec in fake.snapshot():
            self.assertTrue(rec["verified"],
                            f"botocore rejected a signature: {rec['why']}")
            self.assertEqual(rec["why"], f"bedrock/{REGION}")


class EnvironmentKeysAndThrottling(BedrockCase):

    def test_throttled_twice_then_summarized(self):
        ring = fx.KeyRing()
        ak, sk, tok = "AKIDVFENVTEST", "env-secret-" + os.urandom(8).hex(), \
            "session-" + os.urandom(8).hex()
        ring.add(ak, sk, tok)
        fake = fx.FakeBedrock(ring, throttle=2)
        server = start(fake, node_env(AWS_ACCESS_KEY_ID=ak,
                                      AWS_SECRET_ACCESS_KEY=sk,
                                      AWS_SESSION_TOKEN=tok))
        try:
            summary = self.run_job(server, "beach day.mp4")
            reqs = fake.snapshot()
            print(f"\n  bedrock saw {len(reqs)} calls: "
                  f"{[r['status'] for r in reqs]}", flush=True)
            self.assertEqual([r["status"] for r in reqs], [429, 429, 200])
            self.assert_all_verified(fake)
            self.assertEqual(summary, reqs[-1]["answer"])
            self.assertTrue(all(r["access_key"] == ak and r["token"] == tok
                                for r in reqs))
            self.assertTrue(all(r["model"] == ANTHROPIC for r in reqs))
            body = reqs[-1]["body"]
            self.assertEqual(body["anthropic_version"], "bedrock-2023-05-31")
            self.assertEqual(body["max_tokens"], 300)
            # The prompt was built from the probed metadata.
            self.assertIn("beach day.mp4", summary)
            self.assertRegex(summary, r": 1\.0\d* s, 2 streams\.$")
            # Throttling was absorbed inside one summarize attempt.
            c = server.client()
            jid = self.last_job_id
            items = c.call("GET", f"/jobs/{jid}/attempts").json()["items"]
            summ = [a for a in items if a["kind"] == "summarize"]
            self.assertEqual(len(summ), 1, items)
            self.assertTrue(summ[0]["ok"])
            server.stop()
            log = server.log_text()
            self.assertIn("AWS credentials from environment", log)
            self.assertNotIn(sk, log)
            self.assertNotIn(tok, log)
        finally:
            server.stop()
            fake.close()


class SharedFileProfileAndTitan(BedrockCase):

    def test_profile_keys_and_titan_body(self):
        ring = fx.KeyRing()
        ring.add("AKIDVFCIPROFILE", "ci-secret-key")
        fake = fx.FakeBedrock(ring, answer_delay_s=0.3)
        env = node_env()
        creds = os.path.join(env["HOME"], "creds.ini")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDNOTTHISONE\n"
                    "aws_secret_access_key = wrong\n\n"
                    "[ci]\naws_access_key_id = AKIDVFCIPROFILE\n"
                    "aws_secret_access_key = ci-secret-key\n")
        env["AWS_SHARED_CREDENTIALS_FILE"] = creds
        # One call slot for two workers: summaries wait for it in turn.
        server = start(fake, env, model=TITAN,
                       extra=["--aws-profile", "ci",
                              "--bedrock-concurrency", "1"])
        try:
            summaries = h.run_parallel(
                lambda i: self.run_job(server, f"c{i}.mp4"), range(3),
                max_workers=3)
            summary = summaries[0]
            reqs = sorted(fake.snapshot(),
                          key=lambda r: r["answer"].find("c0.mp4") < 0)
            self.assertEqual([r["status"] for r in reqs], [200] * 3)
            self.assertEqual(fake.max_inflight, 1,
                             "more calls at once than bedrock.concurrency")
            self.assert_all_verified(fake)
            self.assertEqual(reqs[0]["access_key"], "AKIDVFCIPROFILE")
            self.assertIsNone(reqs[0]["token"])
            self.assertEqual(reqs[0]["model"], TITAN)
            body = reqs[0]["body"]
            self.assertIn("Facts:", body["inputText"])
            self.assertEqual(body["textGenerationConfig"]["maxTokenCount"],
                             300)
            self.assertEqual(summary, reqs[0]["answer"])
            self.assertIn("credentials from shared file (profile ci)",
                          server.log_text())
        finally:
            server.stop()
            fake.close()


class EcsCredentialsRefreshed(BedrockCase):

    def test_short_lived_keys_are_fetched_again(self):
        ring = fx.KeyRing()
        fake = fx.FakeBedrock(ring)
        # Keys that hold 304 s: vidflow refreshes 300 s before expiry, and
        # not more often than every 5 s.
        ecs = fx.FakeEcsCredentials(ring, token="ecs-auth-" + os.urandom(
            6).hex(), lifetime_s=304)
        env = node_env(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/v2/credentials/x",
            AWS_CONTAINER_AUTHORIZATION_TOKEN=ecs.token)
        server = start(fake, env)
        try:
            self.run_job(server, "first.mp4")
            time.sleep(6)
            self.run_job(server, "second.mp4")
            reqs = fake.snapshot()
            self.assert_all_verified(fake)
            self.assertEqual([r["status"] for r in reqs], [200, 200])
            keys = [r["access_key"] for r in reqs]
            print(f"\n  ECS endpoint called {ecs.calls} times, issued "
                  f"{len(ecs.issued)}; calls signed with {keys}", flush=True)
            self.assertTrue(all(k in ecs.issued for k in keys))
            self.assertNotEqual(keys[0], keys[1],
                                "the expiring keys were not refreshed")
            self.assertGreaterEqual(ecs.calls, 2)
            self.assertIn("AWS credentials from ecs", server.log_text())
        finally:
            server.stop()
            fake.close()
            ecs.close()

    def test_wrong_token_fails_as_provider_error(self):
        ring = fx.KeyRing()
        fake = fx.FakeBedrock(ring)
        ecs = fx.FakeEcsCredentials(ring, token="the-right-token")
        env = node_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/c",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="a-wrong-token")
        server = start(fake, env, extra=["--max-attempts", "2",
                                         "--backoff-base-ms", "50",
                                         "--backoff-cap-ms", "100"])
        try:
            c = server.client()
            jid = submit(c)
            job = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(job["status"], "FAILED", job)
            self.assertEqual(job["error_code"], "provider_error")
            self.assertIn("ECS container credentials: HTTP 401",
                          job["error_message"])
            self.assertEqual(fake.snapshot(), [])
            self.assertNotIn("a-wrong-token", server.log_text())
        finally:
            server.stop()
            fake.close()
            ecs.close()


class InstanceMetadataV2(BedrockCase):

    def test_instance_role_keys(self):
        ring = fx.KeyRing()
        fake = fx.FakeBedrock(ring)
        imds = fx.FakeImds(ring)
        env = node_env(AWS_EC2_METADATA_DISABLED="",
                       AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
        server = start(fake, env)
        try:
            summary = self.run_job(server)
            reqs = fake.snapshot()
            self.assert_all_verified(fake)
            self.assertEqual([r["status"] for r in reqs], [200])
            self.assertIn(reqs[0]["access_key"], imds.issued)
            self.assertEqual(summary, reqs[0]["answer"])
            self.assertEqual(imds.refused, 0, "a GET went without a token")
            self.assertIn("credentials from imds (role vidflow-node-role)",
                          server.log_text())
        finally:
            server.stop()
            fake.close()
            imds.close()


class Refusals(BedrockCase):

    def test_bad_signature_is_not_retried_inside(self):
        ring = fx.KeyRing()
        ring.add("AKIDVFREAL", "the-real-secret")
        fake = fx.FakeBedrock(ring)
        server = start(fake, node_env(AWS_ACCESS_KEY_ID="AKIDVFREAL",
                                      AWS_SECRET_ACCESS_KEY="not-the-secret"),
                       extra=["--max-attempts", "2", "--backoff-base-ms",
                              "50", "--backoff-cap-ms", "100"])
        try:
            c = server.client()
            jid = submit(c)
            job = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(job["status"], "FAILED", job)
            self.assertEqual(job["error_code"], "provider_error")
            self.assertIn("InvalidSignatureException", job["error_message"])
            # One call per task attempt: a 403 is not worth asking again.
            self.assertEqual([r["status"] for r in fake.snapshot()],
                             [403, 403])
            admin = h.Client(server.base)
            admin.login("admin", "admin")
            report = admin.call("GET", "/dlq/report").json()
            self.assertIn("provider_error", report["categories"])
        finally:
            server.stop()
            fake.close()

    def test_no_credentials_anywhere(self):
        ring = fx.KeyRing()
        fake = fx.FakeBedrock(ring)
        server = start(fake, node_env(), extra=["--max-attempts", "1"])
        try:
            self.assertIn("no AWS credentials yet", server.log_text())
            c = server.client()
            jid = submit(c)
            job = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(job["status"], "FAILED", job)
            self.assertEqual(job["error_code"], "provider_error")
            self.assertIn("AWS_ACCESS_KEY_ID", job["error_message"])
            self.assertEqual(fake.snapshot(), [])
        finally:
            server.stop()
            fake.close()

    def test_bad_settings_stop_start_up(self):
        for args, key in ((["--summarizer", "openai"], "summarizer.kind"),
                          (["--summarizer", "bedrock", "--bedrock-model-id",
                            "meta.llama3-8b-instruct-v1:0"],
                           "bedrock.model_id"),
                          (["--summarizer", "bedrock", "--bedrock-region",
                            "Mars 1"], "bedrock.region"),
                          (["--summarizer", "bedrock", "--bedrock-endpoint",
                            "ftp://x"], "bedrock.endpoint")):
            r = subprocess.run([h.binary, "serve", "--config", h.config,
                                *args], capture_output=True, text=True,
                               timeout=30, env={**os.environ, **node_env()})
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(f"setting {key}", r.stderr)


if __name__ == "__main__":
    h.main(__doc__)
