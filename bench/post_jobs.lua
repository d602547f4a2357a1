-- wrk script: POST /jobs with a bearer token, as a client starting uploads.
--
--   TOKEN=<jwt> wrk -t2 -c50 -d10s --latency -s bench/post_jobs.lua http://127.0.0.1:8000
--
-- Counts non-2xx answers itself (wrk's own counter lets 3xx through) and
-- prints one machine-readable line for bench/ingest.sh:
--   VFBENCH requests=N rps=R p50_ms=A p99_ms=B max_ms=C non2xx=E socket_errors=S

local token = os.getenv("TOKEN") or ""
local filename = os.getenv("FILENAME") or "clip.mp4"

wrk.method = "POST"
wrk.path = "/jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"filename":"' .. filename .. '","content_type":"video/mp4"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "VFBENCH requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, socket_errors))
end
