// vf/runtime/admin_command.cpp
//
// `vidflow admin ...`: the operators' CLI. It asks the coordinator's admin
// console either over CAF's network layer (`--cluster`: the cluster's
// mutual TLS with the admin client certificate, and the cluster admin key)
// or through the HTTP admin routes with an admin login (a node without a
// cluster port, as `make run` starts it). Both give the same JSON; it
// prints tables for people or the JSON for scripts.

#include "vf/runtime/admin_command.hpp"

#include "vf/runtime/admin_link.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vf::runtime {

namespace {

using nlohmann::json;

// Exit codes scripts can rely on (also in --help).
constexpr int exit_ok = 0;
constexpr int exit_refused = 1;  // the coordinator answered with an error
constexpr int exit_usage = 2;    // bad command line
constexpr int exit_offline = 3;  // the coordinator cannot be reached
constexpr int exit_login = 4;    // login refused (or not an admin)

const char* usage_text
  = "Usage: vidflow admin <command> [arguments] [options]\n"
    "\n"
    "Commands:\n"
    "  status                   the coordinator: version, uptime, intake, jobs\n"
    "                           by status, queues, slots, worker nodes\n"
    "  jobs                     jobs SUBMITTED or PROCESSING, oldest first,\n"
    "                           with their ages (where a stuck job shows);\n"
    "                           --state S, --owner U, --name TEXT: a search\n"
    "                           (jobs in status S, of user U, whose file\n"
    "                           name holds TEXT; every one given must match),\n"
    "                           most recently changed first (--limit N)\n"
    "  job ID                   one job and its attempt ledger\n"
    "  dlq                      dead letters, newest first (--limit N)\n"
    "  incidents                dead letters by category, with advice\n"
    "  redrive --job ID | --category NAME\n"
    "                           run failed jobs again\n"
    "  cancel ID                cancel a job\n"
    "  drain NODE               worker node NODE gets no new tasks (its\n"
    "                           running tasks finish)\n"
    "  undrain NODE             worker node NODE gets tasks again\n"
    "  pause                    pause intake: POST /jobs answers 503 with\n"
    "                           Retry-After; uploads already accepted process\n"
    "  resume                   open intake again\n"
    "  top                      status refreshed every --interval seconds\n"
    "                           (Ctrl-C ends it)\n"
    "\n"
    "Options:\n"
    "  --cluster HOST:PORT\n"
    "                   talk to the coordinator's admin console over its\n"
    "                   cluster port (mutual TLS; default\n"
    "                   $VIDFLOW_ADMIN_CLUSTER); needs --certs\n"
    "  --certs DIR      ca.pem, admin.pem, admin.key and admin.secret from\n"
    "                   'vidflow cluster init-certs' (default\n"
    "                   $VIDFLOW_ADMIN_CERTS)\n"
    "  --url URL        without --cluster: the coordinator's HTTP API\n"
    "                   (default $VIDFLOW_ADMIN_URL or http://127.0.0.1:8000)\n"
    "  --user NAME      admin account (default $VIDFLOW_ADMIN_USER or admin);\n"
    "                   the password comes from $VIDFLOW_ADMIN_PASSWORD, else\n"
    "                   it is asked on the terminal\n"
    "  --json           print the coordinator's JSON answer instead of tables\n"
    "  --limit N        rows of dlq and of a jobs search (default 20)\n"
    "  --state S        with jobs: AWAITING_UPLOAD, SUBMITTED, PROCESSING,\n"
    "                   SUCCEEDED, FAILED, CANCELLED or EXPIRED\n"
    "  --owner U        with jobs: user U's jobs\n"
    "  --name TEXT      with jobs: jobs whose file name holds TEXT\n"
    "                   (case-sensitive)\n"
    "  --interval S     seconds between refreshes of top (default 2)\n"
    "  --iterations N   top stops after N refreshes (default: never)\n"
    "  --testing-skip-admit\n"
    "                   TEST ONLY, with --cluster: never ask the console to\n"
    "                   admit this process (it must then refuse)\n"
    "\n"
    "Exit codes: 0 done, 1 the coordinator refused (its reason is printed),\n"
    "2 bad command line or missing files, 3 coordinator unreachable (or it\n"
    "does not trust the certificate), 4 login or admin key refused, or not\n"
    "an admin.\n";

struct options {
  std::string command;
  std::vector<std::string> args;
  std::string url;
  std::string user;
  std::string cluster;
  std::string certs;
  bool json = false;
  int limit = 20;
  double interval = 2;
  long iterations = -1;
  std::string job;
  std::string category;
  std::string state;
  std::string owner;
  std::string name;
  bool skip_admit = false;
};

struct answer {
  long status = 0;
  std::string body;
  /// Transport failure (no answer at all); empty when there was one.
  std::string error;
};

size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

answer http(const std::string& method, const std::string& url,
            const std::string& token, const std::string& body = {}) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  answer result;
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    result.error = "libcurl: no handle";
    return result;
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!token.empty()) {
    auth = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  auto rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    result.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  else
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return result;
}

std::string env_or(const char* name, const std::string& fallback) {
  auto x = std::getenv(name);
  return x != nullptr && *x != '\0' ? std::string{x} : fallback;
}

// Reads a password from the terminal without echo; nullopt if there is
// no terminal to ask.
std::optional<std::string> ask_password(const std::string& user) {
  if (!isatty(STDIN_FILENO))
    return std::nullopt;
  std::cerr << "password for " << user << ": " << std::flush;
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  auto quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string pw;
  std::getline(std::cin, pw);
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return pw;
}

/// Prints the coordinator's error and returns the exit code it means.
int refused(const std::string& what, const answer& a) {
  auto doc = json::parse(a.body, nullptr, false);
  std::string detail
    = doc.is_object() && doc.contains("detail") && doc["detail"].is_string()
        ? doc["detail"].get<std::string>()
        : a.body.substr(0, 300);
  std::cerr << "vidflow admin: " << what << ": HTTP " << a.status << ": "
            << detail << "\n";
  return a.status == 401 || a.status == 403 ? exit_login : exit_refused;
}

std::string pad(std::string x, size_t n) {
  if (x.size() < n)
    x.append(n - x.size(), ' ');
  return x;
}

/// Prints rows as columns (the first row is the header).
void table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i)
        width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += (i + 1 < r.size() ? pad(r[i], width[i] + 2) : r[i]);
    std::cout << line << "\n";
  }
}

std::string text(const json& x) {
  if (x.is_null())
    return "-";
  if (x.is_string())
    return x.get<std::string>();
  return x.dump();
}

/// `x[key]`, or null when `x` is no object or has no `key`: the answer came
/// over the network, its shape is not taken on trust.
const json& at(const json& x, const char* key) {
  static const json none;
  if (!x.is_object())
    return none;
  auto i = x.find(key);
  return i == x.end() ? none : *i;
}

int64_t int_of(const json& x) {
  return x.is_number() ? static_cast<int64_t>(x.get<double>()) : 0;
}

bool bool_of(const json& x) {
  return x.is_boolean() && x.get<bool>();
}

std::string duration(int64_t s) {
  if (s < 120)
    return std::to_string(s) + "s";
  if (s < 7200)
    return std::to_string(s / 60) + "m";
  if (s < 172800)
    return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

void print_status(const json& x) {
  std::cout << "vidflow " << text(at(x, "version")) << ", up "
            << duration(int_of(at(x, "uptime_s"))) << ", intake "
            << (bool_of(at(x, "paused")) ? "PAUSED" : "open") << "\n\n";
  std::vector<std::vector<std::string>> jobs{{"STATUS", "JOBS"}};
  // In lifecycle order, not the JSON object's.
  for (auto k : {"AWAITING_UPLOAD", "SUBMITTED", "PROCESSING", "SUCCEEDED",
                 "FAILED", "CANCELLED", "EXPIRED"})
    if (at(x, "jobs").contains(k))
      jobs.push_back({k, text(at(at(x, "jobs"), k))});
  table(jobs);
  auto& q = at(x, "queue");
  std::cout << "\nqueue: " << text(at(q, "queued")) << " waiting, "
            << text(at(q, "leased")) << " running, " << text(at(q, "workers"))
            << " workers, " << text(at(q, "free_slots")) << " slots free\n";
  std::vector<std::vector<std::string>> prio{{"PRIORITY", "QUEUED",
                                              "OLDEST"}};
  for (auto k : {"high", "default", "low"}) {
    auto& v = at(at(q, "by_priority"), k);
    prio.push_back(
      {k, text(at(v, "queued")), duration(int_of(at(v, "oldest_s")))});
  }
  table(prio);
  std::cout << "\n";
  std::vector<std::vector<std::string>> nodes{
    {"NODE", "WORKERS", "SLOTS", "BUSY", "STATE", "KINDS", "LABELS"}};
  for (auto& n : at(x, "nodes")) {
    std::string labels;
    for (auto& l : at(n, "labels"))
      labels += (labels.empty() ? "" : ",") + text(l);
    std::string kinds;
    if (n.contains("kinds"))
      for (auto& k : at(n, "kinds"))
        kinds += (kinds.empty() ? "" : ",") + text(k);
    nodes.push_back(
      {text(at(n, "name")), text(at(n, "workers")), text(at(n, "slots")),
       n.contains("busy") ? text(at(n, "busy")) : "-",
       bool_of(at(n, "draining")) ? "draining" : "active",
       kinds.empty() ? "-" : kinds, labels.empty() ? "-" : labels});
  }
  if (nodes.size() == 1)
    std::cout << "no worker nodes (only this node's own workers)\n";
  else
    table(nodes);
}

void print_jobs(const json& x) {
  std::vector<std::vector<std::string>> rows{
    {"JOB", "OWNER", "FILE", "STATUS", "STEP", "ATTEMPT", "AGE", "IN STATE"}};
  for (auto& j : at(x, "items"))
    rows.push_back({text(at(j, "job_id")), text(at(j, "owner")),
                    text(at(j, "filename")),
                    text(at(j, "status")), text(at(j, "step")),
                    text(at(j, "attempts")), duration(int_of(at(j, "age_s"))),
                    duration(int_of(at(j, "in_state_s")))});
  if (rows.size() == 1)
    std::cout << "no job found\n";
  else
    table(rows);
}

void print_job(const json& x) {
  auto& j = at(x, "job");
  for (auto key : {"job_id", "owner", "filename", "status", "step",
                   "attempts", "series", "priority", "created_at",
                   "updated_at", "next_attempt_at", "error_code",
                   "error_message", "request_id"})
    if (j.contains(key))
      std::cout << pad(key, 17) << text(at(j, key)) << "\n";
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows{
    {"KIND", "ATTEMPT", "SERIES", "OK", "ERROR", "WORKER", "AT"}};
  for (auto& a : at(x, "attempts"))
    rows.push_back({text(at(a, "kind")), text(at(a, "attempt")),
                    text(at(a, "series")), bool_of(at(a, "ok")) ? "yes" : "no",
                    bool_of(at(a, "ok")) ? "-"
                                         : text(at(a, "error_code")) + ": "
                                             + text(at(a, "error_message")),
                    text(at(a, "worker")), text(at(a, "finished_at"))});
  if (rows.size() == 1)
    std::cout << "no attempt yet\n";
  else
    table(rows);
}

void print_dlq(const json& x) {
  std::vector<std::vector<std::string>> rows{
    {"JOB", "SERIES", "KIND", "ERROR", "CREATED", "REDRIVEN"}};
  for (auto& d : at(x, "items"))
    rows.push_back(
      {text(at(d, "job_id")), text(at(d, "series")), text(at(d, "kind")),
       text(at(d, "error_code")) + ": " + text(at(d, "error_message")),
       text(at(d, "created_at")), text(at(d, "redriven_at"))});
  if (rows.size() == 1)
    std::cout << "no dead letters\n";
  else
    table(rows);
}

void print_incidents(const json& x) {
  std::vector<std::vector<std::string>> rows{
    {"CATEGORY", "COUNT", "LAST SEEN", "DO"}};
  for (auto& [name, c] : at(x, "categories").items())
    rows.push_back({name, text(at(c, "count")), text(at(c, "last_seen")),
                    text(at(c, "recommendation"))});
  if (rows.size() == 1)
    std::cout << "no incidents\n";
  else
    table(rows);
}

std::optional<options> parse(const std::vector<std::string>& args,
                             std::string& why) {
  options o;
  o.url = env_or("VIDFLOW_ADMIN_URL", "http://127.0.0.1:8000");
  o.user = env_or("VIDFLOW_ADMIN_USER", "admin");
  o.cluster = env_or("VIDFLOW_ADMIN_CLUSTER", "");
  o.certs = env_or("VIDFLOW_ADMIN_CERTS", "");
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        why = std::string{name} + " needs a value";
        return std::nullopt;
      }
      return args[++i];
    };
    auto number = [&](const char* name, double lo,
                      double hi) -> std::optional<double> {
      auto v = value(name);
      if (!v)
        return std::nullopt;
      char* end = nullptr;
      auto x = std::strtod(v->c_str(), &end);
      if (v->empty() || *end != '\0' || !(x >= lo && x <= hi)) {
        why = std::string{name} + " must be a number from "
              + std::to_string(static_cast<long>(lo)) + " to "
              + std::to_string(static_cast<long>(hi)) + ", got '" + *v + "'";
        return std::nullopt;
      }
      return x;
    };
    if (a == "--cluster" || a == "--certs") {
      auto v = value(a == "--cluster" ? "--cluster" : "--certs");
      if (!v)
        return std::nullopt;
      (a == "--cluster" ? o.cluster : o.certs) = *v;
    } else if (a == "--url") {
      auto v = value("--url");
      if (!v)
        return std::nullopt;
      o.url = *v;
    } else if (a == "--user") {
      auto v = value("--user");
      if (!v)
        return std::nullopt;
      o.user = *v;
    } else if (a == "--testing-skip-admit") {
      o.skip_admit = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--limit") {
      auto v = number("--limit", 1, 200);
      if (!v)
        return std::nullopt;
      o.limit = static_cast<int>(*v);
    } else if (a == "--interval") {
      auto v = number("--interval", 0.2, 3600);
      if (!v)
        return std::nullopt;
      o.interval = *v;
    } else if (a == "--iterations") {
      auto v = number("--iterations", 1, 1e9);
      if (!v)
        return std::nullopt;
      o.iterations = static_cast<long>(*v);
    } else if (a == "--state") {
      auto v = value("--state");
      if (!v)
        return std::nullopt;
      o.state = *v;
      for (auto& ch : o.state)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    } else if (a == "--owner" || a == "--name") {
      auto v = value(a.c_str());
      if (!v)
        return std::nullopt;
      (a == "--owner" ? o.owner : o.name) = *v;
    } else if (a == "--job") {
      auto v = value("--job");
      if (!v)
        return std::nullopt;
      o.job = *v;
    } else if (a == "--category") {
      auto v = value("--category");
      if (!v)
        return std::nullopt;
      o.category = *v;
    } else if (a.size() > 1 && a[0] == '-') {
      why = "unknown option '" + a + "'";
      return std::nullopt;
    } else if (o.command.empty()) {
      o.command = a;
    } else {
      o.args.push_back(a);
    }
  }
  while (!o.url.empty() && o.url.back() == '/')
    o.url.pop_back();
  static const std::map<std::string, size_t> arity{
    {"status", 0}, {"jobs", 0},  {"job", 1},   {"dlq", 0},    {"incidents", 0},
    {"redrive", 0}, {"cancel", 1}, {"pause", 0}, {"resume", 0}, {"top", 0},
    {"drain", 1},   {"undrain", 1}};
  auto i = arity.find(o.command);
  if (o.command.empty()) {
    why = "no command";
    return std::nullopt;
  }
  if (i == arity.end()) {
    why = "unknown command '" + o.command + "'";
    return std::nullopt;
  }
  if (o.args.size() != i->second) {
    why = "'" + o.command + "' takes "
          + (i->second == 0 ? std::string{"no argument"}
             : o.command == "drain" || o.command == "undrain"
               ? std::string{"a node name"}
               : std::string{"a job id"});
    return std::nullopt;
  }
  if ((!o.state.empty() || !o.owner.empty() || !o.name.empty())
      && o.command != "jobs") {
    why = "--state, --owner and --name go with 'jobs' only";
    return std::nullopt;
  }
  if (o.command == "redrive" && o.job.empty() == o.category.empty()) {
    why = "redrive needs --job ID or --category NAME (one of them)";
    return std::nullopt;
  }
  if (!o.cluster.empty() && o.certs.empty()) {
    why = "--cluster needs --certs DIR (or $VIDFLOW_ADMIN_CERTS)";
    return std::nullopt;
  }
  return o;
}

/// `host:port` → its parts; false if it is not that.
bool split_host_port(const std::string& x, std::string& host,
                     uint16_t& port) {
  auto colon = x.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == x.size())
    return false;
  char* end = nullptr;
  auto n = std::strtoul(x.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || n == 0 || n > 65535)
    return false;
  host = x.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  port = static_cast<uint16_t>(n);
  return true;
}

std::string escape_segment(const std::string& x) {
  std::string out;
  static constexpr char digits[] = "0123456789ABCDEF";
  for (unsigned char c : x) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

/// The HTTP admin routes: logs in once, then one request per `call`.
class http_admin_link : public admin_link {
public:
  http_admin_link(std::string url, std::string token)
    : url_(std::move(url)), token_(std::move(token)) {
  }

  admin_answer call(const admin_op& op) override {
    auto arg = escape_segment(op.arg);
    std::string method = "POST";
    std::string path;
    std::string body = "{}";
    switch (op.verb) {
      case admin_op::status:
        method = "GET", path = "/admin/status";
        break;
      case admin_op::jobs:
        method = "GET", path = "/admin/jobs";
        if (!op.arg.empty() || !op.owner.empty() || !op.name.empty())
          path += "?state=" + arg + "&owner=" + escape_segment(op.owner)
                  + "&name=" + escape_segment(op.name)
                  + "&limit=" + std::to_string(op.limit);
        break;
      case admin_op::job:
        method = "GET", path = "/admin/jobs/" + arg;
        break;
      case admin_op::dlq:
        method = "GET", path = "/dlq?limit=" + std::to_string(op.limit);
        break;
      case admin_op::incidents:
        method = "GET", path = "/dlq/report";
        break;
      case admin_op::redrive_job:
        path = "/dlq/redrive", body = json{{"job_id", op.arg}}.dump();
        break;
      case admin_op::redrive_category:
        path = "/dlq/redrive", body = json{{"category", op.arg}}.dump();
        break;
      case admin_op::cancel:
        path = "/jobs/" + arg + "/cancel";
        break;
      case admin_op::drain:
        path = "/admin/nodes/" + arg + "/drain";
        break;
      case admin_op::undrain:
        path = "/admin/nodes/" + arg + "/undrain";
        break;
      case admin_op::pause:
        path = "/admin/pause";
        break;
      case admin_op::resume:
        path = "/admin/resume";
        break;
    }
    auto a = http(method, url_ + path, token_, method == "POST" ? body : "");
    return admin_answer{a.status, std::move(a.body), std::move(a.error)};
  }

private:
  std::string url_;
  std::string token_;
};

/// Logs in over HTTP; null (with the exit code) when that fails.
std::unique_ptr<admin_link> open_http_link(const options& o, int& code) {
  std::string password = env_or("VIDFLOW_ADMIN_PASSWORD", "");
  if (password.empty()) {
    auto asked = ask_password(o.user);
    if (!asked) {
      std::cerr << "vidflow admin: no password: set VIDFLOW_ADMIN_PASSWORD "
                   "or run on a terminal\n";
      code = exit_usage;
      return nullptr;
    }
    password = *asked;
  }
  auto login = http("POST", o.url + "/auth/login", {},
                    json{{"username", o.user}, {"password", password}}.dump());
  if (!login.error.empty()) {
    std::cerr << "vidflow admin: cannot reach " << o.url << ": "
              << login.error << " (is the coordinator running? --url)\n";
    code = exit_offline;
    return nullptr;
  }
  if (login.status != 200) {
    refused("login as " + o.user, login);
    code = exit_login;
    return nullptr;
  }
  auto token_doc = json::parse(login.body, nullptr, false);
  if (!token_doc.is_object() || !token_doc.contains("access_token")
      || !token_doc["access_token"].is_string()) {
    std::cerr << "vidflow admin: the login answer has no token\n";
    code = exit_refused;
    return nullptr;
  }
  return std::make_unique<http_admin_link>(
    o.url, token_doc["access_token"].get<std::string>());
}

} // namespace

int admin_command(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "-h" || a == "--help") {
      std::cout << usage_text;
      return exit_ok;
    }
  std::string why;
  auto o = parse(args, why);
  if (!o) {
    std::cerr << "vidflow admin: " << why << "\n\n" << usage_text;
    return exit_usage;
  }
  std::unique_ptr<admin_link> link;
  std::string where;
  if (!o->cluster.empty()) {
    admin_link_options lo;
    if (!split_host_port(o->cluster, lo.host, lo.port)) {
      std::cerr << "vidflow admin: --cluster must be HOST:PORT, got '"
                << o->cluster << "'\n";
      return exit_usage;
    }
    lo.certs_dir = o->certs;
    lo.skip_admit = o->skip_admit;
    std::string why;
    int code = exit_refused;
    link = open_admin_link(lo, why, code);
    if (!link) {
      std::cerr << "vidflow admin: " << why << "\n";
      return code;
    }
    where = o->cluster;
  } else {
    int code = exit_refused;
    link = open_http_link(*o, code);
    if (!link)
      return code;
    where = o->url;
  }
  // One request; prints its JSON (--json) or hands it to `show`.
  auto run = [&](const std::string& what, admin_op op, auto show) -> int {
    op.limit = o->limit;
    auto r = link->call(op);
    answer a{r.status, std::move(r.body), std::move(r.error)};
    if (!a.error.empty()) {
      std::cerr << "vidflow admin: cannot reach " << where << ": " << a.error
                << "\n";
      return exit_offline;
    }
    if (a.status < 200 || a.status >= 300)
      return refused(what, a);
    auto doc = json::parse(a.body, nullptr, false);
    if (doc.is_discarded()) {
      std::cerr << "vidflow admin: " << what << ": the answer is not JSON\n";
      return exit_refused;
    }
    if (o->json)
      std::cout << doc.dump(2) << "\n";
    else
      show(doc);
    return exit_ok;
  };
  auto& cmd = o->command;
  auto arg = o->args.empty() ? std::string{} : o->args[0];
  if (cmd == "status")
    return run("status", {admin_op::status}, print_status);
  if (cmd == "jobs") {
    admin_op op{admin_op::jobs, o->state};
    op.owner = o->owner;
    op.name = o->name;
    return run("jobs", op, print_jobs);
  }
  if (cmd == "job")
    return run("job " + arg, {admin_op::job, arg}, print_job);
  if (cmd == "dlq")
    return run("dlq", {admin_op::dlq}, print_dlq);
  if (cmd == "incidents")
    return run("incidents", {admin_op::incidents}, print_incidents);
  if (cmd == "redrive") {
    auto op = o->job.empty() ? admin_op{admin_op::redrive_category, o->category}
                             : admin_op{admin_op::redrive_job, o->job};
    return run("redrive", op, [](const json& x) {
      if (x.contains("redriven"))
        std::cout << "redriven: " << text(at(x, "redriven")) << "\n";
      else
        std::cout << "redriven: job " << text(at(x, "job_id")) << ", now "
                  << text(at(x, "status")) << "\n";
    });
  }
  if (cmd == "cancel")
    return run("cancel " + arg, {admin_op::cancel, arg}, [](const json& x) {
      std::cout << "job " << text(at(x, "job_id")) << " is now "
                << text(at(x, "status")) << "\n";
    });
  if (cmd == "drain" || cmd == "undrain")
    return run(cmd + " " + arg,
               {cmd == "drain" ? admin_op::drain : admin_op::undrain, arg},
               [](const json& x) {
                 std::cout << "node " << text(at(x, "node"))
                           << (bool_of(at(x, "draining"))
                                 ? " is draining: no new tasks; "
                                 : " takes tasks again; ")
                           << text(at(x, "leases")) << " running now\n";
               });
  if (cmd == "pause" || cmd == "resume")
    return run(cmd, {cmd == "pause" ? admin_op::pause : admin_op::resume},
               [](const json& x) {
                 std::cout << (bool_of(at(x, "paused"))
                                 ? "intake paused: new jobs answer 503 until "
                                   "'vidflow admin resume'\n"
                                 : "intake open\n");
               });
  // top: status again and again, with rates from one look to the next.
  std::optional<std::pair<std::chrono::steady_clock::time_point, json>> prev;
  for (long n = 0; o->iterations < 0 || n < o->iterations; ++n) {
    if (n > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(o->interval));
    auto r = link->call({admin_op::status});
    answer a{r.status, std::move(r.body), std::move(r.error)};
    if (!a.error.empty()) {
      std::cerr << "vidflow admin: cannot reach " << where << ": " << a.error
                << "\n";
      return exit_offline;
    }
    if (a.status != 200)
      return refused("top", a);
    auto doc = json::parse(a.body, nullptr, false);
    if (doc.is_discarded())
      return exit_refused;
    auto now = std::chrono::steady_clock::now();
    if (o->json) {
      std::cout << doc.dump() << "\n" << std::flush;
    } else {
      if (isatty(STDOUT_FILENO))
        std::cout << "\x1b[H\x1b[2J";
      print_status(doc);
      if (prev) {
        auto dt = std::chrono::duration<double>(now - prev->first).count();
        auto rate = [&](const char* status) {
          auto num = [](const json& x) {
            return x.is_number() ? x.get<double>() : 0.0;
          };
          auto d = num(at(at(doc, "jobs"), status))
                   - num(at(at(prev->second, "jobs"), status));
          return dt > 0 ? d / dt : 0.0;
        };
        char line[160];
        std::snprintf(line, sizeof(line),
                      "\nrates: %.2f jobs/s succeeded, %.2f jobs/s failed\n",
                      rate("SUCCEEDED"), rate("FAILED"));
        std::cout << line;
      }
      std::cout << std::flush;
    }
    prev = std::make_pair(now, doc);
  }
  return exit_ok;
}

} // namespace vf::runtime
