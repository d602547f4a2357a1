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
- FakeS3: S3 addressed virtual-hosted style only
  (`<bucket>.s3.localhost:<port>/<key>`, which libcurl resolves to
  loopback): PUT, GET, HEAD, DELETE, ListObjectsV2 and multipart uploads,
  each request's header or
  presigned-query signature checked by botocore. s3rver, the real server
  the other tests use, canonicalizes virtual-hosted requests as
  `/<bucket>/<key>` (unlike AWS), so it cannot check this addressing.
"""
import datetime
import hashlib
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape as xml_escape

# Debian's python3-botocore lives in /usr/lib/python3/dist-packages: the
# tests run with /usr/bin/python3 (see tests/integration/e2e.cmake).
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
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


def verify_sigv4(method, raw_path, headers, body, keyring, s3=False):
    """(ok, access_key, why) for one received request, checked by botocore
    (`s3`: S3's rules, the path signed as sent)."""
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
    signer = (S3SigV4Auth if s3 else SigV4Auth)(
        Credentials(ak, secret, token or None), service, region)
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


def _reply(handler, status, body, headers=(),
           content_type="application/json"):
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    handler.send_response(status)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
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
            fake.issued_at[ak] = time.monotonic()
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
        self.issued_at = {}  # access key → time.monotonic() of issue
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


QUERY_RE = re.compile(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request$")


def verify_presigned_s3(method, raw_path, headers, keyring):
    """(ok, access_key, why) for a presigned S3 URL, checked by botocore."""
    path, _, query = raw_path.partition("?")
    pairs = [p.partition("=") for p in query.split("&") if p]
    params = {k: urllib.parse.unquote(v) for k, _, v in pairs}
    sig = params.get("X-Amz-Signature", "")
    m = QUERY_RE.match(params.get("X-Amz-Credential", ""))
    if not m or not sig:
        return False, None, "no or malformed X-Amz-Credential/Signature"
    ak, date, region, service = m.groups()
    known = keyring.get(ak)
    if known is None:
        return False, ak, "unknown access key"
    secret, token = known
    amz_date = params.get("X-Amz-Date", "")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        return False, ak, "malformed X-Amz-Date or X-Amz-Expires"
    if time.time() > t + expires:
        return False, ak, "expired"
    if token and params.get("X-Amz-Security-Token") != token:
        return False, ak, "missing or wrong X-Amz-Security-Token"
    names = params.get("X-Amz-SignedHeaders", "").split(";")
    picked = {}
    for n in names:
        if n == "host":
            continue
        if headers.get(n) is None:
            return False, ak, f"signed header {n} is absent"
        picked[n] = headers.get(n)
    unsigned = "&".join(f"{k}={v}" for k, _, v in pairs
                        if k != "X-Amz-Signature")
    req = AWSRequest(method=method,
                     url="http://" + headers["Host"] + path + "?" + unsigned,
                     headers=picked)
    req.context["timestamp"] = amz_date
    signer = S3SigV4QueryAuth(Credentials(ak, secret, token or None), service,
                              region, expires=expires)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    if not hmac.compare_digest(want, sig):
        return False, ak, "signature mismatch"
    return True, ak, f"{service}/{region}"


def _xml_reply(handler, status, xml, headers=()):
    return _reply(handler, status, xml, headers, "application/xml")


def _s3_error(handler, status, code, message):
    return _xml_reply(handler, status,
                      f"<Error><Code>{code}</Code><Message>{message}"
                      "</Message></Error>")


class _S3Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        self._handle()

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def _handle(self):
        fake = self.fake
        n = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(n) if n else b""
        host = self.headers.get("Host", "")
        suffix = f".s3.localhost:{fake.port}"
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        rec = {"method": self.command, "host": host, "path": path,
               "query": sorted(params), "access_key": None,
               "token": None, "verified": False, "why": "", "status": None}
        with fake.lock:
            fake.requests.append(rec)
        if not host.endswith(suffix) or host == suffix[1:]:
            rec["status"] = 400
            rec["why"] = "not virtual-hosted"
            return _s3_error(self, 400, "InvalidRequest",
                             "this double takes virtual-hosted requests "
                             "only: <bucket>" + suffix)
        bucket = host[:-len(suffix)]
        key = urllib.parse.unquote(path[1:])
        if "X-Amz-Signature" in params:
            ok, ak, why = verify_presigned_s3(self.command, self.path,
                                              self.headers, fake.keyring)
            rec["token"] = params.get("X-Amz-Security-Token", [None])[0]
            rec["auth"] = "query"
        else:
            ok, ak, why = verify_sigv4(self.command, self.path, self.headers,
                                       body, fake.keyring, s3=True)
            rec["token"] = self.headers.get("X-Amz-Security-Token")
            rec["auth"] = "header"
        rec.update(access_key=ak, verified=ok, why=why, bucket=bucket,
                   key=key)
        if not ok:
            rec["status"] = 403
            return _s3_error(self, 403, "SignatureDoesNotMatch", why)
        if bucket not in fake.buckets:
            rec["status"] = 404
            return _s3_error(self, 404, "NoSuchBucket", bucket)
        objects = fake.buckets[bucket]
        rec["status"] = 200
        if self.command == "POST" and "uploads" in params:
            upload_id = secrets.token_hex(12)
            with fake.lock:
                fake.uploads[upload_id] = {
                    "key": key, "parts": {},
                    "type": self.headers.get("Content-Type",
                                             "binary/octet-stream")}
            return _xml_reply(self, 200, (
                "<InitiateMultipartUploadResult><Bucket>" + bucket
                + "</Bucket><Key>" + key + "</Key><UploadId>" + upload_id
                + "</UploadId></InitiateMultipartUploadResult>"))
        if "uploadId" in params:
            upload_id = params["uploadId"][0]
            with fake.lock:
                up = fake.uploads.get(upload_id)
            if up is None or up["key"] != key:
                rec["status"] = 404
                return _s3_error(self, 404, "NoSuchUpload", upload_id)
            if self.command == "PUT":
                number = int(params["partNumber"][0])
                etag = hashlib.md5(body).hexdigest()
                with fake.lock:
                    up["parts"][number] = (etag, body)
                return _xml_reply(self, 200, "", [("ETag", f'"{etag}"')])
            if self.command == "DELETE":
                with fake.lock:
                    fake.uploads.pop(upload_id, None)
                    fake.aborted += 1
                return _xml_reply(self, 204, "")
            listed = re.findall(
                r"<PartNumber>(\d+)</PartNumber><ETag>&quot;([0-9a-f]+)"
                r"&quot;</ETag>|<PartNumber>(\d+)</PartNumber>"
                r"<ETag>\"([0-9a-f]+)\"</ETag>", body.decode())
            parts = [(int(a or c), b or d) for a, b, c, d in listed]
            data = b""
            for number, etag in parts:
                have = up["parts"].get(number)
                if have is None or have[0] != etag:
                    rec["status"] = 400
                    return _s3_error(self, 400, "InvalidPart", str(number))
                data += have[1]
            digest = hashlib.md5(b"".join(
                bytes.fromhex(e) for _, e in parts)).hexdigest()
            etag = f"{digest}-{len(parts)}"
            with fake.lock:
                objects[key] = (data, up["type"], etag)
                fake.uploads.pop(upload_id, None)
                fake.completed.append((key, len(parts)))
            return _xml_reply(self, 200, (
                "<CompleteMultipartUploadResult><Key>" + key + "</Key><ETag>"
                f"&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>"))
        if self.command == "PUT":
            etag = hashlib.md5(body).hexdigest()
            with fake.lock:
                objects[key] = (body, self.headers.get(
                    "Content-Type", "binary/octet-stream"), etag)
            return _xml_reply(self, 200, "", [("ETag", f'"{etag}"')])
        if self.command == "DELETE":
            with fake.lock:
                objects.pop(key, None)
                fake.deleted.append(key)
            return _xml_reply(self, 204, "")
        if key == "" and self.command == "GET":
            return self._list(objects, params)
        with fake.lock:
            obj = objects.get(key)
        if obj is None:
            rec["status"] = 404
            return _s3_error(self, 404, "NoSuchKey", key)
        data, ctype, etag = obj
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Last-Modified", self.date_time_string())
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)


    def _list(self, objects, params):
        """ListObjectsV2, `max-keys` at a time, keys XML-escaped once."""
        prefix = params.get("prefix", [""])[0]
        limit = int(params.get("max-keys", ["1000"])[0])
        after = params.get("continuation-token", [""])[0]
        with self.fake.lock:
            keys = sorted(k for k in objects
                          if k.startswith(prefix) and k > after)
        page, more = keys[:limit], len(keys) > limit
        xml = ("<ListBucketResult><Prefix>" + xml_escape(prefix)
               + "</Prefix><KeyCount>" + str(len(page)) + "</KeyCount>"
               + "<IsTruncated>" + ("true" if more else "false")
               + "</IsTruncated>")
        if more:
            xml += ("<NextContinuationToken>" + xml_escape(page[-1])
                    + "</NextContinuationToken>")
        for k in page:
            xml += "<Contents><Key>" + xml_escape(k) + "</Key></Contents>"
        return _xml_reply(self, 200, xml + "</ListBucketResult>")


class FakeS3(_Server):
    """S3 for `buckets`, virtual-hosted only; `requests` records each one
    with what botocore said of its signature."""

    def __init__(self, keyring, buckets=("uploads",)):
        self.keyring = keyring
        self.buckets = {b: {} for b in buckets}
        self.uploads = {}
        self.completed = []
        self.deleted = []
        self.aborted = 0
        self.requests = []
        super().__init__(_S3Handler)
        self.endpoint = f"http://s3.localhost:{self.port}"

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.requests]

    def put_url(self, url, data, content_type="video/mp4"):
        """PUTs `data` by a presigned URL through `<bucket>.s3.localhost`,
        as a client would; returns (status, body)."""
        return _http("PUT", url, data, {"Content-Type": content_type})

    def get_url(self, url):
        return _http("GET", url, None, {})


def _http(method, url, data, headers):
    """One request to a `*.localhost` URL: connects to 127.0.0.1 and sends
    the URL's host as Host (urllib would ask DNS for the name)."""
    import http.client
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn.putrequest(method, target, skip_host=True,
                        skip_accept_encoding=True)
        conn.putheader("Host", parts.netloc)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(data or b"")))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()
