#!/usr/bin/python3
"""The built-in store spoken to by a standard S3 client: boto3 (Debian
python3-boto3) with the node's store keys, header-signed (SigV4
`Authorization`), path-style, against `vidflow serve` on 127.0.0.1.

    /usr/bin/python3 tests/integration/e2e_store_s3api.py \\
        --binary build/vidflow [--keep]

test_put_head_get_delete_with_the_keys: boto3 PutObject to a new job's
upload key (the body's SHA-256 signed, as botocore does over http) starts
the job, which SUCCEEDED; HeadObject and GetObject (whole and a Range)
give the bytes back; DeleteObject answers 204 and the object is gone
(HeadObject 404); a second DeleteObject is 204 too, as in S3.

test_refusals_lose_nothing: a wrong secret (SignatureDoesNotMatch), a
request with no signature (AccessDenied), a body that does not match its
signed SHA-256 (XAmzContentSHA256Mismatch; the job still waits for its
upload and a correct PUT then works), a key no job waits for (refused by
the upload gate, like a presigned URL), streaming with trailers and
ListObjects version 1 (NotImplemented, said in words) — each a clear S3
error.

test_list_objects_v2: HeadBucket, GetBucketLocation and ListObjectsV2
through boto3: keys with a space, "+"
and "é" in byte order with sizes and ETags, pages of one by continuation
token (boto3's paginator), folders by delimiter, one job's folder,
StartAfter, empty prefixes (a "../" one included), a forged token, an
unknown bucket, a wrong secret and an unsigned request refused.

test_multipart_upload_with_boto3: boto3's own upload_file with a 5 MiB
threshold sends a 12 MiB MP4 (the clip padded with a `free` box) as three
parallel parts; the job starts once, on completion, and SUCCEEDED; the
object has the bytes and S3's multipart ETag (`md5(md5s)-3`).

test_multipart_calls_one_by_one: CreateMultipartUpload, UploadPart (one
part through a presigned URL), ListParts; CompleteMultipartUpload refused
with a wrong ETag (InvalidPart), parts out of order (InvalidPartOrder), a
small part before the last (EntityTooSmall) and an unknown upload id
(NoSuchUpload), each leaving the job waiting; then completed and
SUCCEEDED. AbortMultipartUpload removes an upload (its parts are gone:
NoSuchUpload after); a key no job waits for cannot start one.

test_resumable_upload_through_the_api: POST /jobs/{id}/multipart, part
URLs on request, the parts PUT straight to the store (a tampered URL
refused), the second part's URL asked for again as after a page reload,
POST .../complete: the job SUCCEEDED with the bytes. Every bad request is
a clear 4xx that changes nothing (part ranges, missing or unknown upload
ids, someone else's job, completing with no part, a job that has its
upload); DELETE aborts.

test_aws_chunked_upload: a PUT whose body is aws-chunked
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD; headers signed by botocore, chunks
signed by the test from AWS's specification): a changed chunk answers 403
SignatureDoesNotMatch and a body cut before its final chunk 400
IncompleteBody, both storing nothing; the whole body is stored and the job
SUCCEEDED with the same bytes.
"""

import hashlib
import hmac
import struct
import sys
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
from e2e_events import SSE  # noqa: E402

import boto3  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.credentials  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ACCESS = "vidflow-dev"      # config/vidflow.conf (development keys)
SECRET = "dev-only-secret-key"
BUCKET = "uploads"
SOURCE = "h264_aac_640x360.mp4"


def s3(endpoint, secret=SECRET):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS,
        aws_secret_access_key=secret, region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"max_attempts": 0},
                      s3={"addressing_style": "path"}))


def code_of(err):
    return err.response.get("Error", {}).get("Code"), \
        err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


class StoreS3Api(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary)
        cls.endpoint = f"http://127.0.0.1:{cls.server.store_port}"
        cls.c = cls.server.client()
        cls.data = h.read_bytes(h.clip(SOURCE))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def new_job(self):
        job = self.c.create_job("clip.mp4", "video/mp4")
        return job["job_id"], job["s3_key"]

    def padded(self, total):
        """The clip followed by an MP4 `free` box up to `total` bytes: a
        valid file as large as a test needs."""
        pad = total - len(self.data)
        return self.data + struct.pack(">I", pad) + b"free" + bytes(pad - 8)

    def test_multipart_upload_with_boto3(self):
        from boto3.s3.transfer import TransferConfig
        client = s3(self.endpoint)
        jid, key = self.new_job()
        data = self.padded(12 << 20)
        path = h.scratch_dir() + "/multipart.mp4"
        with open(path, "wb") as f:
            f.write(data)
        cfg = TransferConfig(multipart_threshold=5 << 20,
                             multipart_chunksize=5 << 20, max_concurrency=3)
        client.upload_file(path, BUCKET, key, Config=cfg,
                           ExtraArgs={"ContentType": "video/mp4"})
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        head = client.head_object(Bucket=BUCKET, Key=key)
        self.assertEqual(head["ContentLength"], len(data))
        self.assertEqual(head["ContentType"], "video/mp4")
        md5s = b"".join(hashlib.md5(data[i:i + (5 << 20)]).digest()
                        for i in range(0, len(data), 5 << 20))
        self.assertEqual(head["ETag"],
                         f'"{hashlib.md5(md5s).hexdigest()}-3"')
        got = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.assertEqual(hashlib.sha256(got).digest(),
                         hashlib.sha256(data).digest())
        # One probe: the upload was announced once, on completion.
        attempts = self.c.call("GET", f"/jobs/{jid}/attempts").json()["items"]
        self.assertEqual([a["kind"] for a in attempts],
                         ["probe", "summarize"])

    def test_resumable_upload_through_the_api(self):
        jid, key = self.new_job()
        data = self.padded(6 << 20)

        def call(method, path, body=None, status=200, client=None):
            r = (client or self.c).call(method, path, body)
            self.assertEqual(r.status, status, f"{method} {path}: {r}")
            return r.json()

        for body in ({"size": 0}, {"size": -1}, {"size": "6"},
                     {"size": 1 << 50}, {"size": 1.5}, {"bytes": 6}, [1]):
            r = self.c.call("POST", f"/jobs/{jid}/multipart", body)
            self.assertEqual(r.status, 422, (body, r))
        # With its size declared, the upload's progress shows on the job's
        # event stream part by part.
        up = call("POST", f"/jobs/{jid}/multipart", {"size": len(data)},
                  status=201)
        uid = up["upload_id"]
        self.assertEqual(up["min_part_size"], 5 << 20)
        self.assertGreaterEqual(up["part_size"], 5 << 20)
        urls = call("GET", f"/jobs/{jid}/multipart/parts?upload_id={uid}"
                           "&numbers=1-2")["parts"]
        self.assertEqual([p["part_number"] for p in urls], [1, 2])
        one, two = data[:5 << 20], data[5 << 20:]
        r = h.request("PUT", h.tamper_url(urls[0]["url"]), one,
                      {"Content-Length": str(len(one))})
        self.assertEqual(r.status, 403, r)
        r = h.request("PUT", urls[0]["url"], one,
                      {"Content-Length": str(len(one))})
        self.assertEqual(r.status, 200, r)
        stream = SSE(self.server.http_port, f"/jobs/{jid}/events",
                     self.c.token)
        try:
            self.assertEqual(stream.status, 200)
            for _ in range(50):
                ev = stream.next()
                self.assertIsNotNone(ev)
                if ev["event"] == "upload":
                    break
            self.assertEqual(ev["event"], "upload", ev)
            self.assertEqual(ev["data"], {"bytes": len(one),
                                          "total": len(data)})
        finally:
            stream.close()
        # A page reload later: the client kept the upload id and asks for
        # what it still misses.
        again = call("GET", f"/jobs/{jid}/multipart/parts?upload_id={uid}"
                            "&numbers=2")["parts"]
        r = h.request("PUT", again[0]["url"], two,
                      {"Content-Length": str(len(two))})
        self.assertEqual(r.status, 200, r)
        # Bad requests change nothing.
        for q in ("numbers=0-2", "numbers=3-2", "numbers=1-101",
                  "numbers=9999-10001", "numbers=x", "numbers=",
                  "numbers=1--2"):
            r = self.c.call("GET", f"/jobs/{jid}/multipart/parts?"
                                   f"upload_id={uid}&{q}")
            self.assertEqual(r.status, 422, (q, r))
        for path in (f"/jobs/{jid}/multipart/parts?numbers=1",
                     f"/jobs/{jid}/multipart/parts?upload_id=a%2Fb&numbers=1"):
            self.assertEqual(self.c.call("GET", path).status, 422, path)
        for body in ({}, {"upload_id": 7}, {"upload_id": uid, "x": 1},
                     {"upload_id": uid, "parts": []},
                     {"upload_id": uid, "parts": [{"part_number": 0,
                                                   "etag": "ab"}]},
                     {"upload_id": uid, "parts": [{"part_number": 1,
                                                   "etag": "<x>"}]}):
            r = self.c.call("POST", f"/jobs/{jid}/multipart/complete", body)
            self.assertEqual(r.status, 422, (body, r))
        r = self.c.call("POST", f"/jobs/{jid}/multipart/complete",
                        {"upload_id": "0" * 32})
        self.assertEqual(r.status, 404, r)
        other = h.Client(self.server.base)
        other.login("admin", "admin")
        theirs = other.create_job("theirs.mp4", "video/mp4")["job_id"]
        r = self.c.call("POST", f"/jobs/{theirs}/multipart")
        self.assertEqual(r.status, 404, r)
        # A second upload of the same job with no part cannot complete;
        # aborted, it is gone.
        spare = call("POST", f"/jobs/{jid}/multipart", status=201)["upload_id"]
        r = self.c.call("POST", f"/jobs/{jid}/multipart/complete",
                        {"upload_id": spare})
        self.assertEqual(r.status, 422, r)
        call("DELETE", f"/jobs/{jid}/multipart?upload_id={spare}")
        r = self.c.call("DELETE", f"/jobs/{jid}/multipart?upload_id={spare}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        done = call("POST", f"/jobs/{jid}/multipart/complete",
                    {"upload_id": uid})
        self.assertTrue(done["etag"].endswith("-2"), done)
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        got = s3(self.endpoint).get_object(Bucket=BUCKET,
                                           Key=key)["Body"].read()
        self.assertEqual(got, data)
        # The job has its upload: no new one.
        r = self.c.call("POST", f"/jobs/{jid}/multipart")
        self.assertEqual(r.status, 409, r)

    def test_multipart_calls_one_by_one(self):
        client = s3(self.endpoint)
        jid, key = self.new_job()
        data = self.padded(7 << 20)
        one, two = data[:5 << 20], data[5 << 20:]
        up = client.create_multipart_upload(Bucket=BUCKET, Key=key,
                                            ContentType="video/mp4")
        uid = up["UploadId"]
        self.assertRegex(uid, "^[0-9a-f]{32}$")
        e1 = client.upload_part(Bucket=BUCKET, Key=key, UploadId=uid,
                                PartNumber=1, Body=one)["ETag"]
        self.assertEqual(e1, f'"{hashlib.md5(one).hexdigest()}"')
        # The second part through a presigned URL, as a browser would.
        url = client.generate_presigned_url(
            "upload_part", Params={"Bucket": BUCKET, "Key": key,
                                   "UploadId": uid, "PartNumber": 2},
            ExpiresIn=600)
        r = h.request("PUT", url, two, {"Content-Length": str(len(two))})
        self.assertEqual(r.status, 200, r)
        e2 = r.headers.get("etag")
        self.assertEqual(e2, f'"{hashlib.md5(two).hexdigest()}"')
        parts = client.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)
        self.assertEqual([(p["PartNumber"], p["ETag"], p["Size"])
                          for p in parts["Parts"]],
                         [(1, e1, len(one)), (2, e2, len(two))])
        page = client.list_parts(Bucket=BUCKET, Key=key, UploadId=uid,
                                 MaxParts=1)
        self.assertTrue(page["IsTruncated"])
        self.assertEqual([p["PartNumber"] for p in page["Parts"]], [1])

        def complete(parts, upload=uid):
            return client.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                           for n, e in parts]})

        for parts, want in (([(1, e1), (2, '"' + "0" * 32 + '"')],
                             ("InvalidPart", 400)),
                            ([(2, e2), (1, e1)], ("InvalidPartOrder", 400)),
                            ([(1, e1), (3, e2)], ("InvalidPart", 400))):
            with self.assertRaises(ClientError) as e:
                complete(parts)
            self.assertEqual(code_of(e.exception), want, parts)
        with self.assertRaises(ClientError) as e:
            complete([(1, e1), (2, e2)], upload="0" * 32)
        self.assertEqual(code_of(e.exception), ("NoSuchUpload", 404))
        # A small part before the last is refused (S3's 5 MiB rule).
        small = client.create_multipart_upload(Bucket=BUCKET, Key=key)
        s1 = client.upload_part(Bucket=BUCKET, Key=key,
                                UploadId=small["UploadId"], PartNumber=1,
                                Body=two)["ETag"]
        s2 = client.upload_part(Bucket=BUCKET, Key=key,
                                UploadId=small["UploadId"], PartNumber=2,
                                Body=one)["ETag"]
        with self.assertRaises(ClientError) as e:
            complete([(1, s1), (2, s2)], upload=small["UploadId"])
        self.assertEqual(code_of(e.exception), ("EntityTooSmall", 400))
        # Aborted: its parts are gone.
        a = client.abort_multipart_upload(Bucket=BUCKET, Key=key,
                                          UploadId=small["UploadId"])
        self.assertEqual(a["ResponseMetadata"]["HTTPStatusCode"], 204)
        for call in (lambda: client.list_parts(Bucket=BUCKET, Key=key,
                                               UploadId=small["UploadId"]),
                     lambda: client.upload_part(
                         Bucket=BUCKET, Key=key, UploadId=small["UploadId"],
                         PartNumber=3, Body=b"x")):
            with self.assertRaises(ClientError) as e:
                call()
            self.assertEqual(code_of(e.exception), ("NoSuchUpload", 404))
        # Copies are not made (an empty part would be stored otherwise).
        with self.assertRaises(ClientError) as e:
            client.upload_part_copy(Bucket=BUCKET, Key=key, UploadId=uid,
                                    PartNumber=3,
                                    CopySource={"Bucket": BUCKET, "Key": key})
        self.assertEqual(code_of(e.exception), ("NotImplemented", 501))
        # Nothing of that started the job.
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        done = complete([(1, e1), (2, e2)])
        self.assertTrue(done["ETag"].endswith('-2"'), done)
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        got = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.assertEqual(got, data)
        # Completed: the upload id is spent.
        with self.assertRaises(ClientError) as e:
            client.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)
        self.assertEqual(code_of(e.exception), ("NoSuchUpload", 404))
        # Another key cannot use an upload id; no job waits for this key.
        with self.assertRaises(ClientError) as e:
            client.create_multipart_upload(Bucket=BUCKET,
                                           Key="uploads/nobody/x.mp4")
        self.assertEqual(code_of(e.exception), ("AccessDenied", 403))

    def test_put_head_get_delete_with_the_keys(self):
        client = s3(self.endpoint)
        jid, key = self.new_job()
        put = client.put_object(Bucket=BUCKET, Key=key, Body=self.data,
                                ContentType="video/mp4")
        self.assertEqual(put["ResponseMetadata"]["HTTPStatusCode"], 200)
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        head = client.head_object(Bucket=BUCKET, Key=key)
        self.assertEqual(head["ContentLength"], len(self.data))
        self.assertEqual(head["ContentType"], "video/mp4")
        got = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.assertEqual(got, self.data)
        part = client.get_object(Bucket=BUCKET, Key=key, Range="bytes=10-19")
        self.assertEqual(part["Body"].read(), self.data[10:20])
        self.assertEqual(part["ResponseMetadata"]["HTTPStatusCode"], 206)
        d = client.delete_object(Bucket=BUCKET, Key=key)
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)
        with self.assertRaises(ClientError) as e:
            client.head_object(Bucket=BUCKET, Key=key)
        self.assertEqual(code_of(e.exception)[1], 404)
        d = client.delete_object(Bucket=BUCKET, Key=key)
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)

    def test_refusals_lose_nothing(self):
        jid, key = self.new_job()
        # Wrong secret.
        with self.assertRaises(ClientError) as e:
            s3(self.endpoint, secret="not-the-secret").put_object(
                Bucket=BUCKET, Key=key, Body=self.data)
        self.assertEqual(code_of(e.exception),
                         ("SignatureDoesNotMatch", 403))
        # No signature at all.
        r = h.request("GET", f"{self.endpoint}/{BUCKET}/{key}")
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"AccessDenied", r.body)
        # A body other than the one signed: refused, nothing stored.
        url = f"{self.endpoint}/{BUCKET}/{key}"
        req = AWSRequest(method="PUT", url=url, data=b"the signed bytes",
                         headers={"Content-Type": "video/mp4"})
        botocore.auth.S3SigV4Auth(
            botocore.credentials.Credentials(ACCESS, SECRET), "s3",
            "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
        headers["Content-Length"] = str(len(b"other bytes!!!!!"))
        r = h.request("PUT", url, b"other bytes!!!!!", headers)
        self.assertEqual(r.status, 400, r)
        self.assertIn(b"XAmzContentSHA256Mismatch", r.body)
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        # Trailer-checksum streaming: not supported, said so.
        class Streaming(botocore.auth.S3SigV4Auth):
            def payload(self, request):
                return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        req2 = AWSRequest(method="PUT", url=url, data=b"x")
        Streaming(botocore.credentials.Credentials(ACCESS, SECRET), "s3",
                  "us-east-1").add_auth(req2)
        r = h.request("PUT", url, b"x", dict(req2.headers.items()))
        self.assertEqual(r.status, 501, r)
        self.assertIn(b"aws-chunked", r.body)
        # The job still takes its real upload.
        client = s3(self.endpoint)
        client.put_object(Bucket=BUCKET, Key=key, Body=self.data)
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        # A key no job waits for: the upload gate refuses it.
        with self.assertRaises(ClientError) as e:
            client.put_object(Bucket=BUCKET, Key="uploads/nobody/x.mp4",
                              Body=b"x")
        self.assertIn(code_of(e.exception)[1], (403, 404, 409))
        # ListObjects (version 1) is not there: a clear NotImplemented,
        # not a wrong list.
        with self.assertRaises(ClientError) as e:
            client.list_objects(Bucket=BUCKET)
        self.assertEqual(code_of(e.exception), ("NotImplemented", 501))

    def chunked_put(self, key, data, tamper=None, drop_final=False,
                    chunk=65536):
        """PUT `data` as an aws-chunked body: the headers signed by
        botocore (its seed signature), the chunks signed here from AWS's
        specification, independently of the store's code."""
        url = f"{self.endpoint}/{BUCKET}/{key}"
        chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        if not drop_final:
            chunks.append(b"")
        sig_len = 64
        # Content-Length is signed: it is the length of what is sent.
        encoded_len = sum(len(f"{len(c):x};chunk-signature=") + sig_len + 4
                          + len(c) for c in chunks)
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(data)),
                   "Content-Length": str(encoded_len),
                   "Content-Type": "video/mp4"}
        req = AWSRequest(method="PUT", url=url, headers=headers)

        class Streaming(botocore.auth.S3SigV4Auth):
            def payload(self, request):
                return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        Streaming(botocore.credentials.Credentials(ACCESS, SECRET), "s3",
                  "us-east-1").add_auth(req)
        sent = dict(req.headers.items())
        seed = sent["Authorization"].rsplit("Signature=", 1)[1]
        amz_date = sent["X-Amz-Date"]
        scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
        key_ = ("AWS4" + SECRET).encode()
        for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
            key_ = hmac.new(key_, part.encode(), hashlib.sha256).digest()
        body, prev = b"", seed
        empty = hashlib.sha256(b"").hexdigest()
        for i, c in enumerate(chunks):
            to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope,
                                 prev, empty, hashlib.sha256(c).hexdigest()])
            prev = hmac.new(key_, to_sign.encode(), hashlib.sha256).hexdigest()
            if tamper is not None and i == tamper:
                c = bytes([c[0] ^ 1]) + c[1:]
            body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c \
                + b"\r\n"
        assert len(body) == encoded_len
        return h.request("PUT", url, body, sent)

    def test_aws_chunked_upload(self):
        client = s3(self.endpoint)
        # A chunk changed on the way: refused, nothing stored.
        jid, key = self.new_job()
        r = self.chunked_put(key, self.data, tamper=1)
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"SignatureDoesNotMatch", r.body)
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        # Cut before the final chunk: refused.
        r = self.chunked_put(key, self.data, drop_final=True)
        self.assertEqual(r.status, 400, r)
        self.assertIn(b"IncompleteBody", r.body)
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        # The real thing: stored, the job runs, the bytes come back.
        r = self.chunked_put(key, self.data)
        self.assertEqual(r.status, 200, r)
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        got = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.assertEqual(got, self.data)
        self.assertGreater(len(self.data), 65536)  # several chunks

    def test_list_objects_v2(self):
        client = s3(self.endpoint)
        mine = []
        for name in ("b clip.mp4", "a-clip été.mp4", "c+clip.mp4"):
            job = self.c.create_job(name, "video/mp4")
            client.put_object(Bucket=BUCKET, Key=job["s3_key"],
                              Body=self.data, ContentType="video/mp4")
            mine.append((job["job_id"], job["s3_key"]))
        for jid, _ in mine:
            self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        keys = sorted(k for _, k in mine)
        # One page: every key under the prefix, in S3's (byte) order,
        # with size and ETag (botocore asks for encoding-type=url and
        # decodes: the space, "+" and "é" round-trip).
        page = client.list_objects_v2(Bucket=BUCKET, Prefix="uploads/")
        listed = [o["Key"] for o in page["Contents"]]
        self.assertEqual(listed, sorted(listed, key=lambda k: k.encode()))
        for k in keys:
            self.assertIn(k, listed)
        etag = '"' + __import__("hashlib").md5(self.data).hexdigest() + '"'
        for o in page["Contents"]:
            if o["Key"] in keys:
                self.assertEqual((o["Size"], o["ETag"]),
                                 (len(self.data), etag))
        self.assertFalse(page["IsTruncated"])
        self.assertEqual(page["KeyCount"], len(listed))
        # Pages of one, by continuation token: the same keys.
        paged, pages = [], 0
        for p in client.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix="uploads/",
                PaginationConfig={"PageSize": 1}):
            pages += 1
            paged += [o["Key"] for o in p.get("Contents", [])]
        self.assertEqual(paged, listed)
        self.assertGreaterEqual(pages, len(listed))
        # A folder listing: one common prefix per job, no objects.
        folders = client.list_objects_v2(Bucket=BUCKET, Prefix="uploads/",
                                         Delimiter="/")
        self.assertNotIn("Contents", folders)
        prefixes = [p["Prefix"] for p in folders["CommonPrefixes"]]
        for jid, _ in mine:
            self.assertIn(f"uploads/{jid}/", prefixes)
        # One job's folder, exactly.
        jid, key = mine[0]
        one = client.list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{jid}/")
        self.assertEqual([o["Key"] for o in one["Contents"]], [key])
        # StartAfter skips up to a key.
        after = client.list_objects_v2(Bucket=BUCKET, Prefix="uploads/",
                                       StartAfter=listed[0])
        self.assertEqual([o["Key"] for o in after["Contents"]], listed[1:])
        # Nothing under a prefix no key has (a path trick included).
        for prefix in ("nothing/", "../", "uploads/../../"):
            empty = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
            self.assertEqual(empty["KeyCount"], 0, prefix)
            self.assertNotIn("Contents", empty)
        # Bad input: a clear S3 error.
        with self.assertRaises(ClientError) as e:
            client.list_objects_v2(Bucket=BUCKET, ContinuationToken="forged")
        self.assertEqual(code_of(e.exception), ("InvalidArgument", 400))
        with self.assertRaises(ClientError) as e:
            client.list_objects_v2(Bucket="no-such-bucket")
        self.assertEqual(code_of(e.exception), ("NoSuchBucket", 404))
        with self.assertRaises(ClientError) as e:
            s3(self.endpoint, secret="not-the-secret").list_objects_v2(
                Bucket=BUCKET)
        self.assertEqual(code_of(e.exception),
                         ("SignatureDoesNotMatch", 403))
        r = h.request("GET", f"{self.endpoint}/{BUCKET}?list-type=2")
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"AccessDenied", r.body)
        # HeadBucket and GetBucketLocation, as tools ask before listing.
        head = client.head_bucket(Bucket=BUCKET)
        self.assertEqual(head["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(head["ResponseMetadata"]["HTTPHeaders"]
                         ["x-amz-bucket-region"], "us-east-1")
        with self.assertRaises(ClientError) as e:
            client.head_bucket(Bucket="no-such-bucket")
        self.assertEqual(code_of(e.exception)[1], 404)
        loc = client.get_bucket_location(Bucket=BUCKET)
        self.assertIsNone(loc.get("LocationConstraint"))  # us-east-1
        r = h.request("HEAD", f"{self.endpoint}/{BUCKET}")
        self.assertEqual(r.status, 403, r)


if __name__ == "__main__":
    h.main(__doc__)
