// bench/loadgen.cpp — vf-loadgen, a native end-to-end load generator.
//
// Virtual clients log in once, then each job is: POST /jobs → PUT the
// bytes to the presigned upload URL → follow GET /jobs/{id}?wait=30 (the
// node answers when the job ends; `--poll`: plain polls with backoff) until
// the job ends. Closed loop (`--clients N`: N jobs in
// flight, each client starts its next job when one ends) or open loop
// (`--rate R`: jobs start R per second whatever happens, `--clients` tokens
// shared round robin). One Asio thread, keep-alive connections, so the
// generator costs the machine less than the node it measures (its own CPU
// seconds are printed next to the node's).
//
// Reports jobs/s, the client's latencies (create, PUT, upload done → end,
// whole job) as p50/p99/p999, errors by kind, the CPU seconds of the node
// process per job (`--pid`, from /proc), and upload → done from the
// server's own timestamps: after the run (outside the measured window) it
// replays the state journal of a sample of jobs through
// `GET /jobs/{id}/events` and takes SUBMITTED → the final state.
//
// `--views`: the load is views of one video instead of jobs. The generator
// makes the video first (one job, followed until SUCCEEDED), then each
// client sends POST /videos/{id}/view, the next when the last is answered
// (or --rate views per second). It reports views/s and their latency, and
// checks the node's count against the views acknowledged.
//
// Polling, not Server-Sent Events, follows a job while it runs: the event
// stream samples a job every 250 ms (`stream_interval`), too coarse to time
// a 10 ms job.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using ms_double = std::chrono::duration<double, std::milli>;

// -- options ----------------------------------------------------------------

struct options {
  std::string url = "http://127.0.0.1:8000";
  std::string user = "demo";
  std::string password = "demo";
  std::string file;
  std::string content_type = "video/mp4";
  size_t clients = 32;
  double rate = 0; // jobs/s; 0: closed loop
  double duration_s = 30;
  double warmup_s = 2;
  size_t max_jobs = 0; // 0: no limit
  int pid = 0;
  std::string csv;
  size_t server_times = 2000;
  double drain_s = 60;
  std::string series;
  bool follow = true;
  bool poll = false; // follow by polling instead of ?wait=
  bool views = false; // the load is views of one video
};

const char* usage = R"(vf-loadgen: end-to-end load on a running vidflow node.

  vf-loadgen --file CLIP [--url http://127.0.0.1:8000] [--user demo]
             [--password demo] [--content-type video/mp4]
             [--clients 32] [--rate 0] [--duration 30] [--warmup 2]
             [--jobs 0] [--pid PID] [--csv FILE] [--server-times 2000]
             [--series FILE] [--no-follow] [--poll] [--views]

Closed loop by default: --clients jobs in flight, each client starting its
next job when one ends. --rate R: open loop, R jobs started per second
whatever the node does (--clients logins shared round robin). Jobs started
during --warmup seconds are run but not counted; the window is --duration
seconds after it (--jobs N stops starting after N counted jobs). Then it
waits for the jobs in flight (60 s at most).

--pid: the node's process id, for its CPU seconds per job (/proc/PID/stat).
--csv: one line per counted job. --server-times: how many jobs to time from
the server's own state journal after the run (0: none). --series: one line
per second from the start of the load (jobs ended so far, in flight, the
node's RSS, CPU seconds, then RSS split in anonymous and file pages), for
soaks. --no-follow: a job ends when its upload is acknowledged (to pile
jobs up in the node, e.g. to measure its memory per job in flight). A job
is followed with GET /jobs/{id}?wait=30, which the node answers when the
job ends (asked again while it runs);
--poll follows it with plain GET /jobs/{id} after 1, 1.5, 2.25 ... ms (50 ms
at most), as a client of a node without ?wait= would.

--views: the load is views of one video: the generator makes it (one job
from --file, followed until SUCCEEDED), then sends POST /videos/{id}/view
from each client (--rate: views per second). Reports views/s and their
latency, and exits 1 if the node's count differs from its count before
plus the views it acknowledged.

Exit status: 0 when the run finished (whatever its numbers), 1 when the
node could not be reached or logged into, 2 on a usage error.
)";

bool parse_options(int argc, char** argv, options& o) {
  auto need = [&](int& i) -> const char* {
    if (i + 1 >= argc) {
      std::cerr << "vf-loadgen: " << argv[i] << " needs a value\n";
      return nullptr;
    }
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      std::exit(0);
    }
    if (a == "--no-follow") {
      o.follow = false;
      continue;
    }
    if (a == "--views") {
      o.views = true;
      continue;
    }
    if (a == "--poll") {
      o.poll = true;
      continue;
    }
    const char* v = need(i);
    if (v == nullptr)
      return false;
    try {
      if (a == "--url")
        o.url = v;
      else if (a == "--user")
        o.user = v;
      else if (a == "--password")
        o.password = v;
      else if (a == "--file")
        o.file = v;
      else if (a == "--content-type")
        o.content_type = v;
      else if (a == "--clients")
        o.clients = std::stoul(v);
      else if (a == "--rate")
        o.rate = std::stod(v);
      else if (a == "--duration")
        o.duration_s = std::stod(v);
      else if (a == "--warmup")
        o.warmup_s = std::stod(v);
      else if (a == "--jobs")
        o.max_jobs = std::stoul(v);
      else if (a == "--pid")
        o.pid = std::stoi(v);
      else if (a == "--csv")
        o.csv = v;
      else if (a == "--server-times")
        o.server_times = std::stoul(v);
      else if (a == "--series")
        o.series = v;
      else {
        std::cerr << "vf-loadgen: unknown option " << a << " (see --help)\n";
        return false;
      }
    } catch (const std::exception&) {
      std::cerr << "vf-loadgen: " << a << " takes a number, got '" << v
                << "'\n";
      return false;
    }
  }
  if (o.file.empty()) {
    std::cerr << "vf-loadgen: --file CLIP is required (see --help)\n";
    return false;
  }
  if (o.clients == 0 || o.duration_s <= 0 || o.rate < 0 || o.warmup_s < 0) {
    std::cerr << "vf-loadgen: --clients and --duration must be positive, "
                 "--rate and --warmup not negative\n";
    return false;
  }
  return true;
}

// -- URLs -------------------------------------------------------------------

struct url_parts {
  std::string host;
  std::string port;
  std::string target; // path and query
};

std::optional<url_parts> parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return std::nullopt; // The bench talks plain HTTP on 127.0.0.1.
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url_parts p;
  p.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    p.host = authority;
    p.port = "80";
  } else {
    p.host = authority.substr(0, colon);
    p.port = authority.substr(colon + 1);
  }
  if (p.host.empty())
    return std::nullopt;
  return p;
}

// -- HTTP over a keep-alive pool ------------------------------------------

struct reply {
  int status = 0; // 0: transport error
  std::string body;
  std::string error; // transport error text
};

using reply_handler = std::function<void(reply)>;

/// One keep-alive connection.
struct conn {
  explicit conn(asio::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

/// Connections by host:port, reused while the server keeps them alive.
class pool {
public:
  explicit pool(asio::io_context& io) : io_(io) {}

  /// Sends one request; `done` gets the reply. A request on a reused
  /// connection that the server had closed is sent again once on a fresh
  /// one (counted in `stale_retries`).
  void call(http::verb method, const std::string& url,
            std::shared_ptr<const std::string> body,
            std::vector<std::pair<std::string, std::string>> headers,
            reply_handler done) {
    auto p = parse_url(url);
    if (!p) {
      done(reply{0, {}, "not an http:// URL: " + url});
      return;
    }
    auto req = std::make_shared<http::request<http::string_body>>(
      method, p->target, 11);
    req->set(http::field::host, p->host + ":" + p->port);
    req->keep_alive(true);
    for (auto& [k, v] : headers)
      req->set(k, v);
    if (body) {
      req->body() = *body;
      req->prepare_payload();
    }
    send(p->host + ":" + p->port, std::move(req), std::move(done), true);
  }

  size_t stale_retries = 0;
  size_t connections = 0;

private:
  /// `first_try`: a kept-alive connection may carry the request (a retry
  /// never takes one: the server may have closed every idle connection at
  /// once, e.g. after its keep-alive timeout).
  void send(const std::string& key,
            std::shared_ptr<http::request<http::string_body>> req,
            reply_handler done, bool first_try) {
    auto& idle = idle_[key];
    if (first_try && !idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      exchange(key, std::move(c), std::move(req), std::move(done), true);
      return;
    }
    auto c = std::make_shared<conn>(io_);
    auto colon = key.rfind(':');
    auto resolved = resolved_.find(key);
    if (resolved == resolved_.end()) {
      tcp::resolver r{io_};
      beast::error_code ec;
      auto res = r.resolve(key.substr(0, colon), key.substr(colon + 1), ec);
      if (ec) {
        done(reply{0, {}, "resolve " + key + ": " + ec.message()});
        return;
      }
      resolved = resolved_.emplace(key, res).first;
    }
    ++connections;
    c->stream.async_connect(
      resolved->second, [this, key, c, req, done](
                          beast::error_code ec, const tcp::endpoint&) mutable {
        if (ec) {
          done(reply{0, {}, "connect " + key + ": " + ec.message()});
          return;
        }
        c->stream.socket().set_option(tcp::no_delay{true});
        exchange(key, std::move(c), std::move(req), std::move(done), false);
      });
  }

  void exchange(const std::string& key, std::shared_ptr<conn> c,
                std::shared_ptr<http::request<http::string_body>> req,
                reply_handler done, bool reused) {
    c->stream.expires_after(std::chrono::seconds(60));
    http::async_write(
      c->stream, *req,
      [this, key, c, req, done, reused](beast::error_code ec, size_t) mutable {
        if (ec) {
          failed(key, std::move(req), std::move(done), reused,
                 "write: " + ec.message());
          return;
        }
        auto res = std::make_shared<http::response<http::string_body>>();
        http::async_read(c->stream, c->buffer, *res,
                         [this, key, c, req, res, done,
                          reused](beast::error_code ec, size_t) mutable {
                           if (ec) {
                             failed(key, std::move(req), std::move(done),
                                    reused, "read: " + ec.message());
                             return;
                           }
                           reply r{static_cast<int>(res->result_int()),
                                   std::move(res->body()),
                                   {}};
                           if (res->keep_alive()) {
                             c->stream.expires_never();
                             idle_[key].push_back(std::move(c));
                           }
                           done(std::move(r));
                         });
      });
  }

  void failed(const std::string& key,
              std::shared_ptr<http::request<http::string_body>> req,
              reply_handler done, bool reused, std::string why) {
    if (reused) {
      ++stale_retries;
      send(key, std::move(req), std::move(done), false);
      return;
    }
    done(reply{0, {}, std::move(why)});
  }

  asio::io_context& io_;
  std::map<std::string, std::vector<std::shared_ptr<conn>>> idle_;
  std::map<std::string, tcp::resolver::results_type> resolved_;
};

// -- measurements -----------------------------------------------------------

struct job_record {
  double started_s = 0; // since the run began
  double create_ms = 0;
  double put_ms = 0;
  double done_ms = 0;  // upload done → end, as the client saw it
  double total_ms = 0; // whole job
  size_t polls = 0;
  std::string status;
  std::string job_id;
  double server_ms = -1; // SUBMITTED → end from the journal; -1: unknown
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return std::nan("");
  std::sort(xs.begin(), xs.end());
  auto k = static_cast<size_t>(std::ceil(p / 100.0 * xs.size()));
  return xs[std::min(xs.size() - 1, k == 0 ? 0 : k - 1)];
}

/// User + system CPU seconds of process `pid` (/proc/PID/stat), or -1.
double process_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string x;
  double utime = 0, stime = 0;
  // After the command: state is field 3; utime 14, stime 15.
  for (int i = 3; i <= 15 && fields >> x; ++i) {
    if (i == 14)
      utime = std::stod(x);
    if (i == 15)
      stime = std::stod(x);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// One of the resident set sizes of process `pid` in MiB (/proc/PID/status:
/// `VmRSS:` all of it, `RssAnon:` heap and other anonymous pages, `RssFile:`
/// mapped files such as the binary and its libraries), or -1.
double process_rss_mib(int pid, const std::string& field = "VmRSS:") {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0)
      return std::stod(line.substr(field.size())) / 1024.0;
  return -1;
}

double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec
         + u.ru_stime.tv_usec / 1e6;
}

/// Milliseconds since the epoch of an ISO 8601 UTC time with milliseconds
/// ("2026-12-05T03:19:12.760Z"), or -1.
double iso_ms(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms)
      < 6)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) * 1000.0 + ms;
}

bool terminal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "CANCELLED"
         || status == "EXPIRED";
}

// -- the run ----------------------------------------------------------------

class run {
public:
  run(asio::io_context& io, options o, std::shared_ptr<const std::string> clip)
    : io_(io), opt_(std::move(o)), clip_(std::move(clip)), pool_(io),
      timer_(io) {}

  /// Logs in `opt_.clients` times, then starts the load.
  void start() {
    t0_ = clock_type::now();
    login_next();
  }

private:
  double now_s() const {
    return std::chrono::duration<double>(clock_type::now() - t0_).count();
  }
  double window_start() const {
    return load_t0_ + opt_.warmup_s;
  }
  double window_end() const {
    return window_start() + opt_.duration_s;
  }

  bool may_start() const {
    if (now_s() >= window_end())
      return false;
    return opt_.max_jobs == 0 || counted_started_ < opt_.max_jobs;
  }

  void login_next() {
    if (tokens_.size() == opt_.clients) {
      begin_load();
      return;
    }
    nlohmann::json body{{"username", opt_.user}, {"password", opt_.password}};
    pool_.call(http::verb::post, opt_.url + "/auth/login",
               std::make_shared<const std::string>(body.dump()),
               {{"Content-Type", "application/json"}}, [this](reply r) {
                 auto doc = nlohmann::json::parse(r.body, nullptr, false);
                 if (r.status != 200 || !doc.is_object()
                     || !doc.contains("access_token")) {
                   fatal_ = "login as '" + opt_.user + "' at " + opt_.url
                            + " failed: "
                            + (r.status == 0 ? r.error
                                             : std::to_string(r.status) + " "
                                                 + r.body.substr(0, 200));
                   return;
                 }
                 tokens_.push_back(doc["access_token"].get<std::string>());
                 login_next();
               });
  }

  void begin_load() {
    if (opt_.views && video_id_.empty()) {
      make_video();
      return;
    }
    load_t0_ = now_s();
    if (opt_.pid > 0)
      rss_start_ = process_rss_mib(opt_.pid);
    window_timer();
    if (!opt_.series.empty())
      series_tick();
    if (opt_.rate > 0) {
      open_loop_tick();
    } else {
      for (size_t i = 0; i < opt_.clients; ++i)
        start_job(i);
    }
  }

  /// Writes one line of the series and schedules the next, a second later,
  /// until the load is over.
  void series_tick() {
    if (!series_.is_open()) {
      series_.open(opt_.series);
      series_ << "t_s,jobs_ended,in_flight,errors,node_rss_mib,node_cpu_s,"
                 "node_rss_anon_mib,node_rss_file_mib\n";
    }
    size_t errors = 0;
    for (auto& [kind, n] : errors_)
      errors += n;
    auto pid = opt_.pid;
    char line[200];
    std::snprintf(line, sizeof line, "%.1f,%zu,%zu,%zu,%.1f,%.2f,%.1f,%.1f\n",
                  now_s() - load_t0_, ended_all_, in_flight_, errors,
                  pid > 0 ? process_rss_mib(pid) : -1.0,
                  pid > 0 ? process_cpu_s(pid) : -1.0,
                  pid > 0 ? process_rss_mib(pid, "RssAnon:") : -1.0,
                  pid > 0 ? process_rss_mib(pid, "RssFile:") : -1.0);
    series_ << line << std::flush;
    if (over())
      return;
    series_timer_.expires_after(std::chrono::seconds(1));
    series_timer_.async_wait([this](beast::error_code ec) {
      if (!ec)
        series_tick();
    });
  }

  /// Samples the node's CPU and the generator's at the window's edges.
  void window_timer() {
    auto at = [this](double s) {
      return t0_
             + std::chrono::duration_cast<clock_type::duration>(
               std::chrono::duration<double>(s));
    };
    auto t = std::make_shared<asio::steady_timer>(io_, at(window_start()));
    t->async_wait([this, t, at](beast::error_code) {
      cpu_start_ = opt_.pid > 0 ? process_cpu_s(opt_.pid) : -1;
      self_start_ = self_cpu_s();
      t->expires_at(at(window_end()));
      t->async_wait([this, t](beast::error_code) { close_window(); });
    });
  }

  /// Samples the end of the window: at its time, or once `--jobs` counted
  /// jobs all ended.
  void close_window() {
    if (window_closed_)
      return;
    cpu_end_ = opt_.pid > 0 ? process_cpu_s(opt_.pid) : -1;
    self_end_ = self_cpu_s();
    if (opt_.pid > 0)
      rss_end_ = process_rss_mib(opt_.pid);
    window_closed_at_ = std::min(now_s(), window_end());
    window_closed_ = true;
  }

  void open_loop_tick() {
    if (!may_start())
      return;
    start_job(next_token_++ % tokens_.size());
    ++opened_;
    auto due = load_t0_ + static_cast<double>(opened_) / opt_.rate;
    timer_.expires_at(t0_
                      + std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(due)));
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec)
        open_loop_tick();
    });
  }

  /// `--views`: makes the one video (a job followed until it SUCCEEDED),
  /// reads its views, then starts the load.
  void make_video() {
    auto auth = "Bearer " + tokens_.front();
    nlohmann::json body{{"filename", "clip.mp4"},
                        {"content_type", opt_.content_type}};
    pool_.call(http::verb::post, opt_.url + "/jobs",
               std::make_shared<const std::string>(body.dump()),
               {{"Content-Type", "application/json"}, {"Authorization", auth}},
               [this, auth](reply r) {
                 auto doc = nlohmann::json::parse(r.body, nullptr, false);
                 if (r.status != 201 || !doc.is_object()
                     || !doc.contains("upload_url")) {
                   fatal_ = "--views: POST /jobs answered "
                            + std::to_string(r.status) + " "
                            + r.body.substr(0, 200) + r.error;
                   return;
                 }
                 video_id_ = doc.value("job_id", "");
                 pool_.call(http::verb::put,
                            doc["upload_url"].get<std::string>(), clip_,
                            {{"Content-Type", opt_.content_type}},
                            [this, auth](reply r) {
                              if (r.status != 200) {
                                fatal_ = "--views: upload answered "
                                         + std::to_string(r.status) + r.error;
                                return;
                              }
                              wait_video(auth);
                            });
               });
  }

  void wait_video(std::string auth) {
    pool_.call(http::verb::get, opt_.url + "/jobs/" + video_id_, nullptr,
               {{"Authorization", auth}}, [this, auth](reply r) {
                 auto doc = nlohmann::json::parse(r.body, nullptr, false);
                 auto status = doc.is_object() ? doc.value("status", "") : "";
                 if (r.status != 200
                     || (terminal(status) && status != "SUCCEEDED")) {
                   fatal_ = "--views: the video's job " + video_id_ + " ended "
                            + status + " (" + std::to_string(r.status) + ")";
                   return;
                 }
                 if (status != "SUCCEEDED") {
                   auto t = std::make_shared<asio::steady_timer>(
                     io_, std::chrono::milliseconds(20));
                   t->async_wait(
                     [this, t, auth](beast::error_code) { wait_video(auth); });
                   return;
                 }
                 read_views(auth, [this](uint64_t views) {
                   views_before_ = views;
                   begin_load();
                 });
               });
  }

  /// Reads the views of the video (`--views`); `fatal_` on failure.
  void read_views(std::string auth, std::function<void(uint64_t)> then) {
    pool_.call(http::verb::get, opt_.url + "/videos/" + video_id_, nullptr,
               {{"Authorization", auth}}, [this, then](reply r) {
                 auto doc = nlohmann::json::parse(r.body, nullptr, false);
                 if (r.status != 200 || !doc.is_object()
                     || !doc.contains("views")) {
                   fatal_ = "--views: GET /videos/" + video_id_ + " answered "
                            + std::to_string(r.status) + " "
                            + r.body.substr(0, 200) + r.error;
                   return;
                 }
                 then(doc["views"].get<uint64_t>());
               });
  }

  /// A new job (or view) record, started now; whether it counts (it
  /// started in the window).
  std::pair<std::shared_ptr<job_record>, bool> begin_record() {
    auto rec = std::make_shared<job_record>();
    rec->started_s = now_s();
    bool counted = rec->started_s >= window_start();
    if (counted)
      ++counted_started_;
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    return {std::move(rec), counted};
  }

  void start_view(size_t client) {
    if (!may_start())
      return;
    // Not a structured binding: lambdas below capture both (C++17).
    auto started = begin_record();
    auto rec = started.first;
    bool counted = started.second;
    auto t_start = clock_type::now();
    pool_.call(http::verb::post, opt_.url + "/videos/" + video_id_ + "/view",
               nullptr, {{"Authorization", "Bearer " + tokens_[client]}},
               [=](reply r) {
                 rec->total_ms = ms_double(clock_type::now() - t_start).count();
                 if (r.status != 200)
                   return job_failed(rec, client, counted, "view", r);
                 ++views_acked_;
                 rec->status = "VIEW";
                 job_ended(rec, client, counted);
               });
  }

  void start_job(size_t client) {
    if (opt_.views) {
      start_view(client);
      return;
    }
    if (!may_start())
      return;
    // Not a structured binding: lambdas below capture both (C++17).
    auto started = begin_record();
    auto rec = started.first;
    bool counted = started.second;
    auto t_start = clock_type::now();
    auto auth = "Bearer " + tokens_[client];
    nlohmann::json body{{"filename", "clip.mp4"},
                        {"content_type", opt_.content_type}};
    pool_.call(
      http::verb::post, opt_.url + "/jobs",
      std::make_shared<const std::string>(body.dump()),
      {{"Content-Type", "application/json"}, {"Authorization", auth}},
      [=](reply r) {
        rec->create_ms = ms_double(clock_type::now() - t_start).count();
        auto doc = nlohmann::json::parse(r.body, nullptr, false);
        if (r.status != 201 || !doc.is_object()
            || !doc.contains("upload_url")) {
          return job_failed(rec, client, counted, "create", r);
        }
        rec->job_id = doc.value("job_id", "");
        auto t_put = clock_type::now();
        pool_.call(http::verb::put, doc["upload_url"].get<std::string>(), clip_,
                   {{"Content-Type", opt_.content_type}}, [=](reply r) {
                     auto t_uploaded = clock_type::now();
                     rec->put_ms = ms_double(t_uploaded - t_put).count();
                     if (r.status != 200)
                       return job_failed(rec, client, counted, "upload", r);
                     if (!opt_.follow) {
                       rec->status = "UPLOADED";
                       rec->total_ms = ms_double(t_uploaded - t_start).count();
                       return job_ended(rec, client, counted);
                     }
                     follow(rec, client, counted, auth, t_start, t_uploaded,
                            opt_.poll ? 1.0 : 0.0);
                   });
      });
  }

  void follow(std::shared_ptr<job_record> rec, size_t client, bool counted,
              std::string auth, clock_type::time_point t_start,
              clock_type::time_point t_uploaded, double delay_ms) {
    auto t = std::make_shared<asio::steady_timer>(
      io_, std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000)));
    // The handler keeps the timer alive: a timer destroyed while it waits
    // calls its handler at once (operation_aborted), which made every
    // poll follow the last reply without the backoff.
    t->async_wait([=, keep = t](beast::error_code) {
      ++rec->polls;
      auto target = opt_.url + "/jobs/" + rec->job_id
                    + (opt_.poll ? "" : "?wait=30");
      pool_.call(http::verb::get, target, nullptr,
                 {{"Authorization", auth}}, [=](reply r) {
                   auto now = clock_type::now();
                   auto doc = nlohmann::json::parse(r.body, nullptr, false);
                   if (r.status != 200 || !doc.is_object())
                     return job_failed(rec, client, counted, "poll", r);
                   auto status = doc.value("status", "");
                   if (!terminal(status)) {
                     // Polls: 1, 1.5, 2.25 ... ms, 50 ms at most. A wait
                     // that ran out: at once.
                     follow(rec, client, counted, auth, t_start, t_uploaded,
                            opt_.poll ? std::min(50.0, delay_ms * 1.5) : 0.0);
                     return;
                   }
                   rec->status = status;
                   rec->done_ms = ms_double(now - t_uploaded).count();
                   rec->total_ms = ms_double(now - t_start).count();
                   job_ended(rec, client, counted);
                 });
    });
  }

  void job_failed(std::shared_ptr<job_record> rec, size_t client, bool counted,
                  const std::string& stage, const reply& r) {
    auto kind
      = stage + ": "
        + (r.status == 0 ? r.error.substr(0, 60) : std::to_string(r.status));
    if (counted)
      ++errors_[kind];
    rec->status = "ERROR";
    job_ended(rec, client, counted);
  }

  void job_ended(std::shared_ptr<job_record> rec, size_t client, bool counted) {
    --in_flight_;
    ++ended_all_;
    if (opt_.max_jobs > 0 && counted_started_ >= opt_.max_jobs
        && in_flight_ == 0 && now_s() >= window_start())
      close_window(); // All counted jobs are done: no need to wait.
    if (counted)
      records_.push_back(*rec);
    if (opt_.rate == 0)
      start_job(client);
  }

public:
  /// Whether the load is over: nothing may start and nothing is in flight
  /// (or the drain deadline passed), and the window was sampled.
  bool over() const {
    if (!fatal_.empty())
      return true;
    if (tokens_.size() < opt_.clients || !window_closed_)
      return false;
    return in_flight_ == 0 || now_s() > window_end() + opt_.drain_s;
  }

  const std::string& fatal() const {
    return fatal_;
  }
  std::vector<job_record>& records() {
    return records_;
  }
  pool& http_pool() {
    return pool_;
  }
  const options& opts() const {
    return opt_;
  }
  const std::vector<std::string>& tokens() const {
    return tokens_;
  }
  const std::string& video_id() const {
    return video_id_;
  }
  void set_views_after(uint64_t n) {
    views_after_ = n;
  }

private:
  asio::io_context& io_;
  options opt_;
  std::shared_ptr<const std::string> clip_;
  pool pool_;
  asio::steady_timer timer_;
  asio::steady_timer series_timer_{io_};
  std::ofstream series_;
  size_t ended_all_ = 0;
  clock_type::time_point t0_;
  double load_t0_ = 0;
  std::vector<std::string> tokens_;
  size_t next_token_ = 0;
  size_t opened_ = 0;
  size_t counted_started_ = 0;
  size_t in_flight_ = 0;
  size_t max_in_flight_ = 0;
  bool window_closed_ = false;
  double window_closed_at_ = 0;
  std::string fatal_;
  std::vector<job_record> records_;
  std::map<std::string, size_t> errors_;
  std::string video_id_;      // --views
  uint64_t views_before_ = 0; // its views before the load
  uint64_t views_acked_ = 0;  // views the node answered 200
  uint64_t views_after_ = 0;  // its views after the load
  double cpu_start_ = -1, cpu_end_ = -1;
  double self_start_ = 0, self_end_ = 0;
  double rss_start_ = -1, rss_end_ = -1;

  friend int report(run&);
  friend int report_views(run&);
};

/// Times a sample of the finished jobs from the server's state journal:
/// `GET /jobs/{id}/events` replays every state with its time, then `done`
/// (and the stream closes). A few streams at a time (the node allows 8 per
/// user).
void server_times(asio::io_context& io, run& r) {
  auto& recs = r.records();
  std::vector<job_record*> sample;
  size_t want = std::min(r.opts().server_times, recs.size());
  for (size_t i = 0; i < want; ++i) {
    auto& x = recs[i * recs.size() / want];
    if (!x.job_id.empty() && terminal(x.status))
      sample.push_back(&x);
  }
  auto next = std::make_shared<size_t>(0);
  auto auth = "Bearer " + r.tokens().front();
  std::function<void()> one = [&, next, auth]() {
    if (*next >= sample.size())
      return;
    auto* rec = sample[(*next)++];
    // A fresh connection each: the stream ends with the connection.
    auto p = parse_url(r.opts().url + "/jobs/" + rec->job_id + "/events");
    auto c = std::make_shared<conn>(io);
    tcp::resolver res{io};
    beast::error_code ec;
    auto eps = res.resolve(p->host, p->port, ec);
    if (ec) {
      one();
      return;
    }
    beast::get_lowest_layer(c->stream).expires_after(std::chrono::seconds(10));
    c->stream.connect(eps, ec);
    if (ec) {
      one();
      return;
    }
    auto req = std::make_shared<http::request<http::empty_body>>(
      http::verb::get, p->target, 11);
    req->set(http::field::host, p->host + ":" + p->port);
    req->set(http::field::authorization, auth);
    auto res_p = std::make_shared<http::response<http::string_body>>();
    http::async_write(
      c->stream, *req,
      [&, c, req, res_p, rec, one](beast::error_code ec, size_t) {
        if (ec) {
          one();
          return;
        }
        // Connection: close, no length: the body is everything until the
        // stream closes after `done`.
        http::async_read(
          c->stream, c->buffer, *res_p,
          [c, res_p, rec, one](beast::error_code, size_t) {
            double submitted = -1, ended = -1;
            std::istringstream in(res_p->body());
            std::string line, event;
            while (std::getline(in, line)) {
              if (line.rfind("event: ", 0) == 0)
                event = line.substr(7);
              if (event != "state" || line.rfind("data: ", 0) != 0)
                continue;
              auto d = nlohmann::json::parse(line.substr(6), nullptr, false);
              if (!d.is_object())
                continue;
              auto s = d.value("status", "");
              auto at = iso_ms(d.value("at", ""));
              if (s == "SUBMITTED" && submitted < 0)
                submitted = at;
              if (terminal(s))
                ended = at;
            }
            if (submitted >= 0 && ended >= submitted)
              rec->server_ms = ended - submitted;
            one();
          });
      });
  };
  for (int i = 0; i < 4; ++i)
    one();
  io.run();
}

/// One line of a report table.
void row(const char* name, const std::string& value) {
  std::printf("%-44s %12s\n", name, value.c_str());
}

/// `x` with `digits` decimals, `-` for NaN (nothing measured).
std::string num(double x, int digits = 1) {
  if (std::isnan(x))
    return std::string{"-"};
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, x);
  return std::string{b};
}

std::string rate_text(double rate) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", rate);
  return b;
}

/// `--views`: the table of a views load, and whether the node's count
/// matches the views it acknowledged.
int report_views(run& r) {
  auto& o = r.opt_;
  std::vector<double> lat;
  size_t in_window = 0;
  for (auto& x : r.records_) {
    if (x.status != "VIEW")
      continue;
    lat.push_back(x.total_ms);
    if (x.started_s + x.total_ms / 1000 <= r.window_closed_at_)
      ++in_window;
  }
  auto errors = r.records_.size() - lat.size();
  auto secs = std::max(1e-3, r.window_closed_at_ - r.window_start());
  std::printf(
    "vf-loadgen --views: %s, %s, window %.0f s after %.0f s "
    "warm-up, %ld CPUs, video %s\n",
    o.url.c_str(),
    o.rate > 0
      ? ("open loop " + rate_text(o.rate) + " views/s").c_str()
      : ("closed loop, " + std::to_string(o.clients) + " clients").c_str(),
    o.duration_s, o.warmup_s, sysconf(_SC_NPROCESSORS_ONLN),
    r.video_id_.c_str());
  std::printf("%-44s %12s\n", "metric", "value");
  row("views started in the window", std::to_string(r.records_.size()));
  row("views/s (answered within the window)",
      num(static_cast<double>(in_window) / secs));
  row("POST /videos/{id}/view ms p50", num(percentile(lat, 50), 2));
  row("POST /videos/{id}/view ms p99", num(percentile(lat, 99), 2));
  row("POST /videos/{id}/view ms p999", num(percentile(lat, 99.9), 2));
  row("client errors", std::to_string(errors));
  if (r.cpu_start_ >= 0 && r.cpu_end_ >= 0) {
    auto cpu = r.cpu_end_ - r.cpu_start_;
    row("node CPU s in the window", num(cpu, 2));
    row("node CPU us per view",
        num(in_window > 0 ? cpu * 1e6 / in_window : std::nan(""), 1));
  }
  row("vf-loadgen CPU s in the window", num(r.self_end_ - r.self_start_, 2));
  row("views acknowledged (whole run)", std::to_string(r.views_acked_));
  row("node's count: before + acknowledged",
      std::to_string(r.views_before_ + r.views_acked_));
  row("node's count after the run", std::to_string(r.views_after_));
  for (auto& [kind, n] : r.errors_)
    row(("error " + kind).c_str(), std::to_string(n));
  if (r.views_after_ != r.views_before_ + r.views_acked_) {
    std::printf(
      "vf-loadgen: the node counted %llu views, expected %llu\n",
      static_cast<unsigned long long>(r.views_after_),
      static_cast<unsigned long long>(r.views_before_ + r.views_acked_));
    return 1;
  }
  return 0;
}

int report(run& r) {
  auto& o = r.opt_;
  auto& recs = r.records_;
  std::vector<double> create, put, done, total, server;
  size_t ok = 0, failed = 0, polls = 0, uploaded = 0;
  for (auto& x : recs) {
    if (x.status == "ERROR")
      continue;
    create.push_back(x.create_ms);
    put.push_back(x.put_ms);
    if (x.status == "UPLOADED") {
      ++uploaded; // --no-follow: its end is not known
      continue;
    }
    done.push_back(x.done_ms);
    total.push_back(x.total_ms);
    polls += x.polls;
    if (x.server_ms >= 0)
      server.push_back(x.server_ms);
    (x.status == "SUCCEEDED" ? ok : failed)++;
  }
  // Jobs that ended inside the window count for throughput.
  size_t in_window = 0;
  for (auto& x : recs)
    if (x.status != "ERROR"
        && x.started_s + x.total_ms / 1000 <= r.window_closed_at_)
      ++in_window;
  auto errors = recs.size() - ok - failed - uploaded;
  std::printf(
    "vf-loadgen: %s, %s, %s, window %.0f s after %.0f s warm-up, "
    "%ld CPUs\n",
    o.url.c_str(),
    o.rate > 0
      ? ("open loop " + rate_text(o.rate) + " jobs/s").c_str()
      : ("closed loop, " + std::to_string(o.clients) + " clients").c_str(),
    !o.follow ? "not followed"
              : (o.poll ? "followed by polls" : "followed with ?wait="),
    o.duration_s, o.warmup_s, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-44s %12s\n", "metric", "value");
  row("jobs started in the window", std::to_string(recs.size()));
  row("  SUCCEEDED", std::to_string(ok));
  row("  FAILED/other end", std::to_string(failed));
  if (uploaded > 0)
    row("  uploaded, not followed", std::to_string(uploaded));
  row("  client errors", std::to_string(errors));
  row("jobs/s (ended within the window)",
      num(static_cast<double>(in_window)
          / std::max(1e-3, r.window_closed_at_ - r.window_start())));
  row("most jobs in flight", std::to_string(r.max_in_flight_));
  for (auto& [name, xs] :
       std::vector<std::pair<std::string, std::vector<double>*>>{
         {"POST /jobs ms", &create},
         {"PUT upload ms", &put},
         {"upload done -> end ms (client)", &done},
         {"whole job ms (client)", &total},
         {"upload done -> end ms (server journal)", &server}}) {
    row((name + " p50").c_str(), num(percentile(*xs, 50), 2));
    row((name + " p99").c_str(), num(percentile(*xs, 99), 2));
    row((name + " p999").c_str(), num(percentile(*xs, 99.9), 2));
  }
  row("jobs timed from the server journal", std::to_string(server.size()));
  row(o.poll ? "polls per job" : "GET ?wait= per job",
      num(done.empty() ? std::nan("") : double(polls) / done.size(), 1));
  if (r.cpu_start_ >= 0 && r.cpu_end_ >= 0) {
    auto cpu = r.cpu_end_ - r.cpu_start_;
    row("node CPU s in the window", num(cpu, 2));
    row("node CPU ms per job ended in the window",
        num(in_window > 0 ? cpu * 1000 / in_window : std::nan(""), 3));
    row("node RSS MiB at start / at window end",
        num(r.rss_start_, 1) + " / " + num(r.rss_end_, 1));
  }
  auto self = r.self_end_ - r.self_start_;
  row("vf-loadgen CPU s in the window", num(self, 2));
  row("vf-loadgen CPU ms per job",
      num(in_window > 0 ? self * 1000 / in_window : std::nan(""), 3));
  row("connections opened", std::to_string(r.pool_.connections));
  row("stale keep-alive retries", std::to_string(r.pool_.stale_retries));
  for (auto& [kind, n] : r.errors_)
    row(("error " + kind).c_str(), std::to_string(n));
  if (!o.csv.empty()) {
    std::ofstream out(o.csv);
    out << "started_s,create_ms,put_ms,done_ms,total_ms,polls,status,"
           "server_ms\n";
    for (auto& x : recs)
      out << x.started_s << ',' << x.create_ms << ',' << x.put_ms << ','
          << x.done_ms << ',' << x.total_ms << ',' << x.polls << ',' << x.status
          << ',' << x.server_ms << '\n';
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_options(argc, argv, o))
    return 2;
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    std::cerr << "vf-loadgen: cannot read " << o.file << "\n";
    return 2;
  }
  auto clip = std::make_shared<const std::string>(
    (std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!parse_url(o.url)) {
    std::cerr << "vf-loadgen: --url must be http://HOST[:PORT]\n";
    return 2;
  }
  asio::io_context io{1};
  run r{io, o, clip};
  r.start();
  // Runs until the load is over; checked every 50 ms.
  asio::steady_timer check{io};
  std::function<void()> watch = [&] {
    if (r.over()) {
      io.stop();
      return;
    }
    check.expires_after(std::chrono::milliseconds(50));
    check.async_wait([&](beast::error_code) { watch(); });
  };
  watch();
  io.run();
  if (!r.fatal().empty()) {
    std::cerr << "vf-loadgen: " << r.fatal() << "\n";
    return 1;
  }
  if (o.views) {
    // The node's count after the run, on a fresh loop.
    asio::io_context io2{1};
    pool p2{io2};
    std::string body;
    int status = 0;
    p2.call(http::verb::get, o.url + "/videos/" + r.video_id(), nullptr,
            {{"Authorization", "Bearer " + r.tokens().front()}}, [&](reply x) {
              status = x.status;
              body = std::move(x.body);
            });
    io2.run();
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (status != 200 || !doc.is_object() || !doc.contains("views")) {
      std::cerr << "vf-loadgen: could not read the views after the run ("
                << status << ")\n";
      return 1;
    }
    r.set_views_after(doc["views"].get<uint64_t>());
    return report_views(r);
  }
  if (o.server_times > 0) {
    // Its own loop: jobs still in flight after the drain deadline stay
    // behind on the first.
    asio::io_context io2{1};
    server_times(io2, r);
  }
  return report(r);
}
