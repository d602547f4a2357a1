// vf/runtime/admin_link.cpp

#include "vf/runtime/admin_link.hpp"

#include "vf/adapters/http/json_views.hpp"
#include "vf/messages/admin_console_actor.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
using messages::errc;

/// How long one request to the console may take.
/// How long one request to the gate may take: longer than the gate waits
/// for the console (30 s), so its own answer arrives first.
constexpr auto call_timeout = 60s;

bool readable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)
         && ::access(path.c_str(), R_OK) == 0;
}

/// The HTTP status the admin routes give for `code` (as error_replies.cpp
/// maps them).
long status_of(errc code) {
  switch (code) {
    case errc::not_found:
      return 404;
    case errc::invalid_argument:
      return 422;
    case errc::duplicate:
    case errc::conflict:
      return 409;
    case errc::unauthorized:
      return 401;
    case errc::forbidden:
    case errc::storage_quota_exceeded:
      return 403;
    case errc::payload_too_large:
      return 413;
    case errc::throttled:
    case errc::quota_exceeded:
      return 429;
    case errc::storage_unavailable:
    case errc::timeout:
    case errc::intake_paused:
      return 503;
    default:
      return 500;
  }
}

admin_answer failed(const caf::error& err) {
  admin_answer a;
  if (err.category() != messages::errc_category) {
    // Not ours: CAF's own (the connection broke, the request timed out);
    // the gate turns errors behind it into ours, so this is the link.
    a.error = to_string(err);
    return a;
  }
  auto code = messages::errc_of(err);
  a.status = status_of(code);
  a.body = adapters::http::error_json(to_string(code),
                                      messages::message_of(err));
  return a;
}

admin_answer ok(std::string body) {
  admin_answer a;
  a.status = 200;
  a.body = std::move(body);
  return a;
}

int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

class caf_admin_link : public admin_link {
public:
  explicit caf_admin_link(std::unique_ptr<caf::actor_system_config> cfg)
    : cfg_(std::move(cfg)), sys_(*cfg_), self_(sys_) {
    exempt_caf_network_from_leak_check(sys_);
  }

  caf::actor_system& system() {
    return sys_;
  }

  caf::scoped_actor& self() {
    return self_;
  }

  /// Gets the operators' gate from `reg` and asks it to admit this
  /// process, both signed with `secret`; remembers both for `call`.
  caf::error admit(messages::cluster_registry_actor reg, std::string secret,
                   bool skip_admit) {
    reg_ = std::move(reg);
    secret_ = std::move(secret);
    skip_admit_ = skip_admit;
    auto node = to_string(self_->node());
    auto at = unix_ms_now();
    caf::error err;
    messages::admin_console_actor gate;
    self_
      ->request(reg_, call_timeout, atoms::console_v, at,
                admin_mac(secret_, messages::admin_payload("console", node,
                                                           at)))
      .receive([&](messages::admin_console_actor& g) { gate = std::move(g); },
               [&](caf::error& e) { err = std::move(e); });
    if (err)
      return err;
    if (!gate)
      return messages::make_error(errc::internal, "no console handle");
    if (!skip_admit) {
      // A new time: each signature is accepted once.
      auto at2 = std::max(unix_ms_now(), at + 1);
      self_
        ->request(gate, call_timeout, atoms::admit_v, at2,
                  admin_mac(secret_, messages::console_payload(node, at2)))
        .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
      if (err)
        return err;
    }
    console_ = std::move(gate);
    return {};
  }

  admin_answer call(const admin_op& op) override {
    auto result = call_once(op);
    // An admission lasts an hour at most (`top` runs longer): admitted
    // again once, then the answer stands.
    if (result.status == 401 && reg_ && !skip_admit_
        && !admit(reg_, secret_, false))
      result = call_once(op);
    return result;
  }

private:
  admin_answer call_once(const admin_op& op) {
    admin_answer result;
    auto on_err = [&](caf::error& err) { result = failed(err); };
    auto& c = console_;
    switch (op.verb) {
      case admin_op::status:
        self_->request(c, call_timeout, atoms::overview_v)
          .receive(
            [&](messages::admin_overview& x) {
              result = ok(adapters::http::admin_overview_json(x));
            },
            on_err);
        break;
      case admin_op::jobs: {
        auto on_jobs = [&](std::vector<messages::job>& xs) {
          result = ok(adapters::http::active_jobs_json(xs, unix_ms_now()));
        };
        if (op.arg.empty() && op.owner.empty() && op.name.empty())
          self_->request(c, call_timeout, atoms::active_v)
            .receive(on_jobs, on_err);
        else
          self_
            ->request(c, call_timeout, atoms::find_jobs_v,
                      messages::job_query{op.arg, op.owner, op.name,
                                          static_cast<uint32_t>(op.limit)})
            .receive(on_jobs, on_err);
        break;
      }
      case admin_op::job:
        self_->request(c, call_timeout, atoms::get_v, op.arg)
          .receive(
            [&](messages::job& j, std::vector<messages::attempt_record>& xs) {
              result = ok(adapters::http::job_detail_json(j, xs));
            },
            on_err);
        break;
      case admin_op::dlq:
        self_
          ->request(c, call_timeout, atoms::dlq_list_v, int64_t{0},
                    static_cast<uint32_t>(op.limit))
          .receive(
            [&](std::vector<messages::dead_letter>& xs) {
              result = ok(adapters::http::json_items(
                xs, adapters::http::append_dead_letter_json, 1024));
            },
            on_err);
        break;
      case admin_op::incidents:
        self_->request(c, call_timeout, atoms::analyze_v, int64_t{0})
          .receive(
            [&](messages::incident_report& x) {
              result = ok(adapters::http::incident_report_json(x));
            },
            on_err);
        break;
      case admin_op::redrive_job:
        self_->request(c, call_timeout, atoms::redrive_v, op.arg)
          .receive(
            [&](messages::job& j) { result = ok(adapters::http::job_json(j)); },
            on_err);
        break;
      case admin_op::redrive_category:
        self_
          ->request(c, call_timeout, atoms::redrive_v, atoms::category_v,
                    op.arg)
          .receive(
            [&](uint64_t n) {
              result = ok(adapters::http::redriven_json(op.arg, n));
            },
            on_err);
        break;
      case admin_op::cancel:
        self_->request(c, call_timeout, atoms::cancel_v, op.arg)
          .receive(
            [&](messages::job& j) { result = ok(adapters::http::job_json(j)); },
            on_err);
        break;
      case admin_op::drain:
      case admin_op::undrain: {
        auto on_leases = [&](uint64_t n) {
          result = ok(adapters::http::node_drain_json(
            op.arg, op.verb == admin_op::drain, n));
        };
        if (op.verb == admin_op::drain)
          self_->request(c, call_timeout, atoms::drain_v, op.arg)
            .receive(on_leases, on_err);
        else
          self_->request(c, call_timeout, atoms::undrain_v, op.arg)
            .receive(on_leases, on_err);
        break;
      }
      case admin_op::pause:
      case admin_op::resume: {
        auto on_paused = [&](bool paused) {
          result = ok(paused ? R"({"paused":true})" : R"({"paused":false})");
        };
        if (op.verb == admin_op::pause)
          self_->request(c, call_timeout, atoms::pause_v)
            .receive(on_paused, on_err);
        else
          self_->request(c, call_timeout, atoms::resume_v)
            .receive(on_paused, on_err);
        break;
      }
    }
    return result;
  }

  std::unique_ptr<caf::actor_system_config> cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  messages::cluster_registry_actor reg_;
  std::string secret_;
  bool skip_admit_ = false;
  messages::admin_console_actor console_;
};

} // namespace

std::unique_ptr<admin_link> open_admin_link(const admin_link_options& opts,
                                            std::string& why, int& exit_code) {
  auto dir = opts.certs_dir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  cluster_config cc;
  cc.host = opts.host;
  cc.port = opts.port;
  cc.ca = dir + "/ca.pem";
  cc.cert = dir + "/admin.pem";
  cc.key = dir + "/admin.key";
  auto secret_path = dir + "/admin.secret";
  for (auto* path : {&cc.ca, &cc.cert, &cc.key, &secret_path})
    if (!readable(*path)) {
      why = "cannot read " + *path
            + " (--certs DIR must hold ca.pem, admin.pem, admin.key and "
              "admin.secret from 'vidflow cluster init-certs')";
      exit_code = 2;
      return nullptr;
    }
  std::ifstream in{secret_path};
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' '))
    secret.pop_back();
  if (secret.empty()) {
    why = secret_path + " is empty";
    exit_code = 2;
    return nullptr;
  }
  auto sys_cfg = std::make_unique<caf::actor_system_config>();
  configure_actor_system(*sys_cfg, scheduler_policy::sharing, 2);
  enable_cluster(*sys_cfg, cc);
  auto link = std::make_unique<caf_admin_link>(std::move(sys_cfg));
  auto& sys = link->system();
  auto target = opts.host + ":" + std::to_string(opts.port);
  auto reg = connect_registry(sys, cc);
  if (!reg) {
    why = "cannot reach the coordinator's cluster port at " + target + ": "
          + sys.render(reg.error())
          + " (is it running with a cluster port? does it trust "
          + cc.cert + ", i.e. is it from the same init-certs CA?)";
    exit_code = 3;
    return nullptr;
  }
  if (auto err = link->admit(*reg, secret, opts.skip_admit)) {
    why = "the coordinator at " + target + " refused the admin key: "
          + messages::message_of(err) + " (is " + secret_path
          + " the coordinator's cluster.admin_key?)";
    exit_code = messages::errc_of(err) == errc::unauthorized ? 4 : 1;
    return nullptr;
  }
  return link;
}

} // namespace vf::runtime
