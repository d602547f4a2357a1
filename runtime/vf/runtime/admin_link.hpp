// vf/runtime/admin_link.hpp
//
// What `vidflow admin` sends and gets back, whichever way it reaches the
// coordinator's admin console: the HTTP admin routes (with an admin
// login) or CAF's network layer (the cluster's mutual TLS, with the admin
// client certificate and the cluster admin key).

#pragma once

#include <memory>
#include <string>
#include <utility>

namespace vf::runtime {

/// One thing the CLI asks of the admin console.
struct admin_op {
  enum verb_t {
    status,
    jobs,
    job,
    dlq,
    incidents,
    redrive_job,
    redrive_category,
    cancel,
    drain,
    undrain,
    pause,
    resume,
  };
  admin_op(verb_t v = status, std::string a = {})
    : verb(v), arg(std::move(a)) {
  }

  verb_t verb;
  /// Job id, category or node name, as the verb needs.
  std::string arg;
  /// Rows of `dlq` and of a job search.
  int limit = 20;
  /// With `jobs`: the search's owner and part of a file name (`arg` is its
  /// status); all empty: the active jobs.
  std::string owner;
  std::string name;
};

/// The console's answer as the HTTP routes would give it: a status and a
/// JSON body (an error body has `detail` and `code`), or a transport
/// failure in `error` (no answer at all).
struct admin_answer {
  long status = 0;
  std::string body;
  std::string error;
};

/// A connection to a coordinator's admin console over the cluster port.
class admin_link {
public:
  virtual ~admin_link() = default;

  /// Asks one thing; the answer's JSON is the HTTP route's.
  virtual admin_answer call(const admin_op& op) = 0;
};

/// Where and how to reach the console over the cluster port.
struct admin_link_options {
  std::string host;
  uint16_t port = 0;
  /// `ca.pem`, `admin.pem`, `admin.key` and `admin.secret`, as `vidflow
  /// cluster init-certs` writes them.
  std::string certs_dir;
  /// TEST ONLY: get the console's handle but never ask it to admit this
  /// process, to show that the console then refuses everything.
  bool skip_admit = false;
};

/// Connects over TLS, gets the console from the coordinator's registry and
/// asks it to admit this process with the admin key. On failure returns
/// null, sets `why` and `exit_code` (2: a file is missing, 3: no TLS
/// connection, e.g. a certificate the coordinator does not trust, 4: the
/// coordinator refused the admin key).
std::unique_ptr<admin_link> open_admin_link(const admin_link_options& opts,
                                            std::string& why, int& exit_code);

} // namespace vf::runtime
