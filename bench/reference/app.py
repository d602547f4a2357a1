"""The reference design's ingest API, rebuilt for benchmarking.

The reference is a FastAPI service on one uvicorn worker with SQLite: each
POST /jobs verifies the bearer JWT, inserts the job row and commits, then
presigns an S3 PUT URL. This file does the same work with the standard
library only (hmac/hashlib for HS256 and SigV4, sqlite3 for the store) so
bench/ingest.sh can compare vidflow against it on the same machine.

Run:  cd bench/reference && /usr/bin/python3 -m uvicorn app:app --port 8100
Env:  REF_DB (SQLite file, default ./reference.db), REF_JWT_SECRET,
      REF_PUBLIC_URL (base of presigned URLs), REF_USERS ("user:pass,...").
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sqlite3
import time
import urllib.parse
import uuid

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

DB_PATH = os.environ.get("REF_DB", "reference.db")
JWT_SECRET = os.environ.get("REF_JWT_SECRET", "reference-dev-secret").encode()
JWT_TTL = 3600
PUBLIC_URL = os.environ.get("REF_PUBLIC_URL", "http://127.0.0.1:9000")
BUCKET = "uploads"
REGION = "us-east-1"
ACCESS_KEY = "reference"
SECRET_KEY = "reference-secret"
PRESIGN_EXPIRES = 900
USERS = dict(
    entry.split(":")[:2]
    for entry in os.environ.get("REF_USERS", "demo:demo,admin:admin").split(",")
)

app = FastAPI(title="vidflow reference API")


# --- storage: one connection per request, commit per insert -----------------

def _connect():
    return sqlite3.connect(DB_PATH, timeout=30)


def _init_db():
    with _connect() as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS jobs ("
            " job_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
            " filename TEXT NOT NULL, content_type TEXT,"
            " s3_bucket TEXT NOT NULL, s3_key TEXT NOT NULL,"
            " status TEXT NOT NULL, created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL)")


_init_db()


# --- HS256 JWT ----------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(username: str) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    now = int(time.time())
    payload = _b64url(json.dumps(
        {"sub": username, "iat": now, "exp": now + JWT_TTL}).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(JWT_SECRET, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(sig)}"


def verify_token(authorization: str) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing bearer token")
    try:
        header, payload, sig = authorization[7:].split(".")
        if json.loads(_b64url_decode(header)).get("alg") != "HS256":
            raise ValueError("alg")
        expected = hmac.new(JWT_SECRET, f"{header}.{payload}".encode(),
                            hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(sig)):
            raise ValueError("signature")
        claims = json.loads(_b64url_decode(payload))
        if claims["exp"] < time.time():
            raise ValueError("expired")
        return claims["sub"]
    except (ValueError, KeyError, json.JSONDecodeError):
        raise HTTPException(401, "invalid token")


# --- SigV4 presigned PUT (the full HMAC chain, as botocore computes it) ------

def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def presign_put(key: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    host = urllib.parse.urlsplit(PUBLIC_URL).netloc
    path = "/" + BUCKET + "/" + urllib.parse.quote(key, safe="/~")
    cred_scope = f"{day}/{REGION}/s3/aws4_request"
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{ACCESS_KEY}/{cred_scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(PRESIGN_EXPIRES),
        "X-Amz-SignedHeaders": "host",
    }
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='~')}={urllib.parse.quote(v, safe='~')}"
        for k, v in sorted(query.items()))
    canonical_request = "\n".join([
        "PUT", path, canonical_query, f"host:{host}\n", "host",
        "UNSIGNED-PAYLOAD"])
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, cred_scope,
        hashlib.sha256(canonical_request.encode()).hexdigest()])
    k = _hmac(("AWS4" + SECRET_KEY).encode(), day)
    k = _hmac(k, REGION)
    k = _hmac(k, "s3")
    k = _hmac(k, "aws4_request")
    signature = hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"{PUBLIC_URL}{path}?{canonical_query}"
            f"&X-Amz-Signature={signature}")


# --- routes -------------------------------------------------------------------

def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException):
    return JSONResponse({"detail": exc.detail, "code": str(exc.status_code)},
                        status_code=exc.status_code)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/auth/login")
def login(body: dict):
    user, password = body.get("username"), body.get("password")
    if not user or USERS.get(user) != password:
        raise HTTPException(401, "invalid credentials")
    return {"access_token": issue_token(user), "token_type": "bearer",
            "expires_in": JWT_TTL}


@app.post("/jobs", status_code=201)
def create_job(body: dict, authorization: str = Header(default="")):
    owner = verify_token(authorization)
    filename = body.get("filename")
    if (not isinstance(filename, str) or not filename or "/" in filename
            or ".." in filename or any(ord(c) < 32 for c in filename)):
        raise HTTPException(422, "invalid filename")
    content_type = body.get("content_type") or "application/octet-stream"
    job_id = str(uuid.uuid4())
    key = f"uploads/{job_id}/{filename}"
    now = _now_iso()
    db = _connect()
    try:
        db.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, 'AWAITING_UPLOAD', ?, ?)",
            (job_id, owner, filename, content_type, BUCKET, key, now, now))
        db.commit()
    finally:
        db.close()
    return {"job_id": job_id, "s3_bucket": BUCKET, "s3_key": key,
            "upload_url": presign_put(key), "expires_in": PRESIGN_EXPIRES}


@app.get("/jobs/{job_id}")
def get_job(job_id: str, authorization: str = Header(default="")):
    verify_token(authorization)
    db = _connect()
    try:
        row = db.execute(
            "SELECT job_id, status, created_at, updated_at, s3_bucket, s3_key,"
            " filename, content_type FROM jobs WHERE job_id = ?",
            (job_id,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise HTTPException(404, "job not found")
    keys = ("job_id", "status", "created_at", "updated_at", "s3_bucket",
            "s3_key", "filename", "content_type")
    return dict(zip(keys, row))
