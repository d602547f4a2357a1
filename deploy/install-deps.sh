#!/usr/bin/env bash
# Installs what vidflow needs to build, test and benchmark on Debian 12,
# skipping what is already there. Used by `make deps` (and so by `make run`,
# `make test`, `.ci/run`). Needs root or sudo for apt; npm tools go into
# build/tools (never global).
#
#   deploy/install-deps.sh            build + run dependencies
#   deploy/install-deps.sh --test     also what the tests need
#   deploy/install-deps.sh --bench    also what the benchmarks need
#   deploy/install-deps.sh --redis    also redis-server (make run PROFILE=redis)
set -euo pipefail

want_test=0
want_bench=0
want_redis=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1; want_test=1 ;;
    --redis) want_redis=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential cmake pkg-config ccache
      libcaf-dev libboost-dev libssl-dev
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
      libavfilter-dev
      fonts-dejavu-core  # the compositions' text overlays (drawtext)
      libhiredis-dev libsqlite3-dev nlohmann-json3-dev
      libcurl4-openssl-dev prometheus-cpp-dev
      ffmpeg curl python3)  # what the README walk-through uses
if [ "$want_test" = 1 ]; then
  # openssl: certificates for TLS refusal tests; iproute2: `ip netns`;
  # prometheus: promtool and a real Prometheus for the observability test.
  # redis-server, redis-tools: the Redis edge tests (a real server).
  # python3-botocore: the Bedrock test checks every request's SigV4
  # signature with AWS's own Python implementation, not ours.
  # python3-boto3: the built-in store's S3 API is tested with boto3 itself.
  # chromium: the web app is tested in a real headless browser.
  pkgs+=(sqlite3 clang libclang-rt-14-dev openssl iproute2 prometheus
        redis-server redis-tools python3-botocore python3-boto3 chromium)
  # Node may come from elsewhere than Debian (with its own npm): only ask
  # apt for it when there is none at all.
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi
if [ "$want_redis" = 1 ]; then
  pkgs+=(redis-server redis-tools)
fi
if [ "$want_bench" = 1 ]; then
  pkgs+=(wrk python3-fastapi python3-uvicorn)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || {
      echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
      exit 1
    }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_test" = 1 ]; then
  # S3 server that checks SigV4 presigned requests, for integration tests.
  tools="$(cd "$(dirname "$0")/.." && pwd)/build/tools"
  # local-aws-sqs: an SQS emulator (SQS cannot run here) with redrive
  # to a dead-letter queue, for the SQS intake tests.
  npm_pkgs=()
  [ -f "$tools/node_modules/@20minutes/s3rver/package.json" ] ||
    npm_pkgs+=(@20minutes/s3rver@4.0.4)
  [ -f "$tools/node_modules/local-aws-sqs/package.json" ] ||
    npm_pkgs+=(local-aws-sqs@2.0.2)
  # dynalite: a DynamoDB emulator (DynamoDB cannot run here), in memory.
  [ -f "$tools/node_modules/dynalite/package.json" ] ||
    npm_pkgs+=(dynalite@3.2.2)
  # @cdktf/hcl2json: Terraform's HCL parser (WebAssembly) for the check of
  # deploy/terraform/aws (Terraform itself is not installable here).
  [ -f "$tools/node_modules/@cdktf/hcl2json/package.json" ] ||
    npm_pkgs+=(@cdktf/hcl2json@0.21.0)
  # playwright-core: drives Debian's chromium for the web app's tests (it
  # downloads no browser of its own).
  [ -f "$tools/node_modules/playwright-core/package.json" ] ||
    npm_pkgs+=(playwright-core@1.64.1)
  if [ "${#npm_pkgs[@]}" -gt 0 ]; then
    echo "install-deps: npm install ${npm_pkgs[*]} into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
      "${npm_pkgs[@]}"
  fi
fi
