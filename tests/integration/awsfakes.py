"""Test doubles for AWS endpoints, on 127.0.0.1, for the e2e tests.

These are emulators, not AWS: Bedrock cannot run here. What makes them
worth trusting is that the Bedrock double checks every request's SigV4
signature with botocore (AWS's own Python implementation, Debian's
python3-botocore), independently of vidflow's signer, and answers in
Bedrock's documented shapes (InvokeModel for Anthropic messages and Amazon
Titan text, ThrottlingException as 429 with x-amzn-ErrorType).

- FakeBedrock: POST /model/{modelId}/invoke
- FakeEcsCredentials: the ECS container credentials endpoint (FULL_URI with
  an Authorization token)
- FakeImds: EC2 instance metadata, IMDSv2 only (PUT token, then GETs with
  X-aws-ec2-metadata-token)
"""
import datetime
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse

# Debian's python3-botocore lives in /usr/lib/python3/dist-packages: the
# tests run with /usr/bin/python3 (see tests/integration/e2e.cmake).
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/"
    r"aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$")


def iso(ts):
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class KeyRing:
    """Access keys the doubles accept: access key → (secret, token)."""

    def __init__(self):
        self._keys = {}
        self._lock = threading.Lock()

    def add(self, access_key, secret, token=""):
        with self._lock:
            self._keys[access_key] = (secret, token)

    def issue(self, prefix):
        """A fresh temporary key triple, registered."""
        ak = prefix + secrets.token_hex(6).upper()
        sk = secrets.token_urlsafe(30)
        tok = secrets.token_urlsafe(40)
        self.add(ak, sk, tok)
        return ak, sk, tok

    def get(self, access_key):
        with self._lock:
            return self._keys.get(access_key)


def verify_sigv4(method, raw_path, headers, body, keyring):
    """(ok, access_key, why) for one received request, checked by botocore."""
    auth = headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        return False, None, "no or malformed Authorization header"
    ak, date, region, service, signed, sig = m.groups()
    known = keyring.get(ak)
    if known is None:
        return False, ak, "unknown access key"
    secret, token = known
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        return False, ak, "credential date differs from X-Amz-Date"
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return False, ak, "malformed X-Amz-Date"
    if abs(time.time() - t) > 300:
        return False, ak, "X-Amz-Date more than 5 minutes off"
    if token and headers.get("X-Amz-Security-Token") != token:
        return False, ak, "missing or wrong X-Amz-Security-Token"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return False, ak, "host and x-amz-date must be signed"
    if token and "x-amz-security-token" not in names:
        return False, ak, "the session token must be signed"
    picked = {}
    for n in names:
        v = headers.get(n)
        if v is None:
            return False, ak, f"signed header {n} is absent"
        picked[n] = v
    req = AWSRequest(method=method, url="http://" + headers["Host"] + raw_path,
                     data=body, headers=picked)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(ak, secret, token or None), service,
                       region)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    if not hmac.compare_digest(want, sig):
        return False, ak, "signature mismatch"
    return True, ak, f"{service}/{region}"


class _Server:
    """A threaded HTTP server on a free loopback port."""

    def __init__(self, handler_cls):
        outer = self

        class Handler(handler_cls):
            fake = outer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(handler, status, body, headers=()):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _BedrockHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        fake = self.fake
        with fake.lock:
            fake.inflight += 1
            fake.max_inflight = max(fake.max_inflight, fake.inflight)
        try:
            self._invoke()
        finally:
            with fake.lock:
                fake.inflight -= 1

    def _invoke(self):
        fake = self.fake
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        ok, ak, why = verify_sigv4("POST", self.path, self.headers, body,
                                   fake.keyring)
        m = re.match(r"^/model/([^/]+)/invoke$", self.path)
        model = urllib.parse.unquote(m.group(1)) if m else None
        rec = {"access_key": ak, "verified": ok, "why": why, "model": model,
               "token": self.headers.get("X-Amz-Security-Token"),
               "body": None, "status": None}
        try:
            rec["body"] = json.loads(body)
        except ValueError:
            pass
        with fake.lock:
            fake.requests.append(rec)
            index = len(fake.requests)
        if not ok:
            rec["status"] = 403
            return _reply(self, 403, {"message": "signature check: " + why},
                          [("x-amzn-ErrorType",
                            "InvalidSignatureException:http://internal."
                            "amazon.com/coral/com.amazon.coral.service/")])
        if model is None or rec["body"] is None:
            rec["status"] = 400
            return _reply(self, 400, {"message": "bad request"},
                          [("x-amzn-ErrorType", "ValidationException")])
        with fake.lock:
            throttle = fake.throttle_left > 0
            if throttle:
                fake.throttle_left -= 1
        if throttle:
            rec["status"] = 429
            return _reply(self, 429, {"message": "Too many requests, please "
                                      "wait before trying again."},
                          [("x-amzn-ErrorType",
                            "ThrottlingException:http://internal.amazon.com/"
                            "coral/com.amazon.bedrock/")])
        prompt = ""
        if model.startswith("amazon.titan-text"):
            prompt = rec["body"].get("inputText", "")
        else:
            for msg in rec["body"].get("messages", []):
                for part in msg.get("content", []):
                    prompt += part.get("text", "")
        facts = {}
        if "Facts:\n" in prompt:
            try:
                facts = json.loads(prompt.split("Facts:\n", 1)[1])
            except ValueError:
                pass
        text = (f"Fake summary #{index} of {facts.get('file')}: "
                f"{facts.get('duration_s')} s, "
                f"{len(facts.get('streams', []))} streams.")
        rec["status"] = 200
        rec["answer"] = text
        time.sleep(fake.answer_delay_s)
        if model.startswith("amazon.titan-text"):
            return _reply(self, 200, {
                "inputTextTokenCount": 42,
                "results": [{"tokenCount": 12, "outputText": text,
                             "completionReason": "FINISH"}]})
        return _reply(self, 200, {
            "id": "msg_" + secrets.token_hex(8), "type": "message",
            "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 42, "output_tokens": 12}})


class FakeBedrock(_Server):
    """bedrock-runtime's InvokeModel; `throttle_left` calls get 429 first."""

    def __init__(self, keyring, throttle=0, answer_delay_s=0.0):
        self.keyring = keyring
        self.requests = []
        self.throttle_left = throttle
        self.answer_delay_s = answer_delay_s
        self.inflight = 0
        self.max_inflight = 0
        super().__init__(_BedrockHandler)

    def snapshot(self):
        with self.lock:
            return list(self.requests)


class _EcsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        fake = self.fake
        with fake.lock:
            fake.calls += 1
        if self.headers.get("Authorization") != fake.token:
            return _reply(self, 401, {"message": "bad token"})
        ak, sk, tok = fake.keyring.issue("ASIAECS")
        with fake.lock:
            fake.issued.append(ak)
        _reply(self, 200, {"RoleArn": "arn:aws:iam::123456789012:role/vf",
                           "AccessKeyId": ak, "SecretAccessKey": sk,
                           "Token": tok,
                           "Expiration": iso(time.time()
                                             + fake.lifetime_s)})


class FakeEcsCredentials(_Server):
    """The ECS agent's credentials endpoint: each GET issues new keys
    lasting `lifetime_s`."""

    def __init__(self, keyring, token, lifetime_s=3600):
        self.keyring = keyring
        self.token = token
        self.lifetime_s = lifetime_s
        self.calls = 0
        self.issued = []
        super().__init__(_EcsHandler)


class _ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ROLE = "vidflow-node-role"

    def do_PUT(self):
        fake = self.fake
        if self.path != "/latest/api/token" or not self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"):
            return _reply(self, 400, b"")
        tok = secrets.token_urlsafe(24)
        with fake.lock:
            fake.tokens.add(tok)
        data = tok.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        fake = self.fake
        with fake.lock:
            fake.gets += 1
            good = self.headers.get("X-aws-ec2-metadata-token") in fake.tokens
        if not good:  # IMDSv1 (no token) is refused, as on hardened hosts
            with fake.lock:
                fake.refused += 1
            return _reply(self, 401, b"")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            data = self.ROLE.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if self.path == base + self.ROLE:
            ak, sk, tok = fake.keyring.issue("ASIAIMDS")
            with fake.lock:
                fake.issued.append(ak)
            return _reply(self, 200, {
                "Code": "Success", "LastUpdated": iso(time.time()),
                "Type": "AWS-HMAC", "AccessKeyId": ak,
                "SecretAccessKey": sk, "Token": tok,
                "Expiration": iso(time.time() + 6 * 3600)})
        return _reply(self, 404, b"")


class FakeImds(_Server):
    """EC2 instance metadata with IMDSv2 required."""

    def __init__(self, keyring):
        self.keyring = keyring
        self.tokens = set()
        self.gets = 0
        self.refused = 0
        self.issued = []
        super().__init__(_ImdsHandler)
