// vf/adapters/objectstore/store_server.cpp

#include "vf/adapters/objectstore/store_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>

#include "vf/adapters/common/accept_backoff.hpp"
#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/common/connection_gate.hpp"
#include "vf/adapters/common/refuse_connection.hpp"
#include "vf/adapters/common/thread_name.hpp"
#include "vf/adapters/common/trusted_proxies.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/adapters/objectstore/pending_announcer.hpp"
#include "vf/adapters/objectstore/pending_journal.hpp"
#include "vf/adapters/objectstore/session.hpp"
#include "vf/adapters/objectstore/store_context.hpp"
#include "vf/messages/errc.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <vector>

namespace vf::adapters::objectstore {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using messages::errc;
using messages::make_error;

namespace {

/// Upper bound on threads; more would only contend for the same disk.
constexpr size_t max_threads = 64;

// The fixed answer to a connection over a limit (see refuse_connection).
std::shared_ptr<const std::string> slow_down(bool per_client) {
  auto make = [](const char* message) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<Error><Code>SlowDown</Code><Message>"
                       + std::string{message} + "</Message></Error>\n";
    return std::make_shared<const std::string>(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
      "application/xml\r\nx-amz-error-code: SlowDown\r\nRetry-After: "
      "1\r\nConnection: close\r\nContent-Length: "
      + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  static const auto total = make("Too many open connections; please reduce "
                                 "your request rate");
  static const auto client = make("Too many open connections from your "
                                  "address; please close idle connections");
  return per_client ? client : total;
}

caf::error invalid_setting(const std::string& name, const std::string& why) {
  return make_error(errc::invalid_argument, "objectstore." + name + ": " + why);
}

} // namespace

struct store_server::impl {
  impl(caf::actor_system& sys, store_config cfg,
       messages::object_sink_actor events)
    : sys(sys), cfg(std::move(cfg)), events(std::move(events)) {
    // nop
  }

  caf::error validate() const;
  caf::error prepare_dirs(std::string& note) const;
  caf::error bind();
  void accept();
  void run(io_worker& worker);
  void run_on(io_worker& worker, std::function<void()> fn);
  void recover_markers();
  void teardown();

  caf::actor_system& sys;
  store_config cfg;
  messages::object_sink_actor events;
  std::unique_ptr<store_context> ctx;
  std::unique_ptr<asio::thread_pool> pool;
  std::vector<std::unique_ptr<io_worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  /// Next sweep of expired multipart uploads.
  std::unique_ptr<asio::steady_timer> multipart_timer;
  /// Removes multipart uploads older than `multipart_expiry` (on the
  /// blocking pool), then waits for the next sweep.
  void sweep_multipart();
  /// Connection limits (total and per client).
  std::shared_ptr<common::connection_gate> gate;
  /// Addresses exempt from the per-client cap.
  common::trusted_proxies proxies;
  /// Waits and log throttling when accept fails (out of descriptors).
  common::accept_backoff backoff;
  /// Refused connections lingering until the client read the answer.
  std::shared_ptr<common::refusal_budget> refusals
    = std::make_shared<common::refusal_budget>();
  /// Re-announces journaled objects; lives on the first worker's thread.
  std::shared_ptr<pending_announcer> announcer;
  size_t next_worker = 0;
  /// When a refusal was last logged (at most one line per 5 s) and how
  /// many happened since.
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log;
  size_t refused_since_log = 0;
  uint16_t port = 0;
  bool started = false;
  bool running = false;
};

caf::error store_server::impl::validate() const {
  if (cfg.data_dir.empty())
    return invalid_setting("data_dir", "must be set");
  if (cfg.buckets.empty())
    return invalid_setting("buckets", "at least one bucket is required");
  for (auto& bucket : cfg.buckets)
    if (!is_valid_bucket_name(bucket))
      return invalid_setting("buckets",
                             "'" + bucket
                               + "' is not a valid bucket name (3-63 "
                                 "characters: a-z, 0-9, '.', '-')");
  if (cfg.region.empty())
    return invalid_setting("region", "must be set");
  if (cfg.keys.empty())
    return invalid_setting("keys", "at least one access key is required");
  for (auto& key : cfg.keys)
    if (key.access_key.empty() || key.secret_key.empty())
      return invalid_setting("keys", "access and secret key must both be set");
  if (cfg.max_object_bytes == 0)
    return invalid_setting("max_object_bytes", "must be positive");
  if (cfg.threads == 0 || cfg.threads > max_threads)
    return invalid_setting("threads", "must be between 1 and "
                                        + std::to_string(max_threads));
  if (cfg.max_connections == 0)
    return invalid_setting("max_connections", "must be positive");
  if (cfg.io_timeout.count() <= 0)
    return invalid_setting("io_timeout", "must be positive");
  if (cfg.header_timeout.count() <= 0)
    return invalid_setting("header_timeout", "must be positive");
  if (cfg.min_rate > 0 && cfg.rate_window.count() < 100)
    return invalid_setting("rate_window", "must be at least 100 ms");
  {
    common::trusted_proxies probe;
    std::string why;
    if (!probe.parse(cfg.trusted_proxies, why))
      return invalid_setting("trusted_proxies", why);
  }
  if (cfg.event_timeout.count() <= 0)
    return invalid_setting("event_timeout", "must be positive");
  if (cfg.announce_backoff_min.count() <= 0)
    return invalid_setting("announce_backoff_min", "must be positive");
  if (cfg.announce_backoff_max < cfg.announce_backoff_min)
    return invalid_setting("announce_backoff_max",
                           "must not be below announce_backoff_min");
  return caf::none;
}

caf::error store_server::impl::prepare_dirs(std::string& note) const {
  namespace fs = std::filesystem;
  auto unusable = [&](const std::string& path, const std::error_code& ec) {
    return make_error(errc::storage_unavailable,
                      "objectstore.data_dir: cannot use " + path + ": "
                        + ec.message());
  };
  std::error_code ec;
  std::vector<std::string> dirs{partial_dir(cfg.data_dir),
                                meta_dir(cfg.data_dir),
                                pending_dir(cfg.data_dir)};
  for (auto& bucket : cfg.buckets)
    dirs.push_back(objects_dir(cfg.data_dir) + "/" + bucket);
  for (auto& dir : dirs) {
    fs::create_directories(dir, ec);
    if (ec)
      return unusable(dir, ec);
  }
  // Uploads that were in flight when the process died are incomplete by
  // definition; their clients got no 200 and will retry.
  auto partial = partial_dir(cfg.data_dir);
  size_t discarded = 0;
  for (fs::directory_iterator i{partial, ec}, end; !ec && i != end;
       i.increment(ec)) {
    std::error_code rm_ec;
    fs::remove_all(i->path(), rm_ec);
    if (rm_ec)
      return unusable(i->path().string(), rm_ec);
    ++discarded;
  }
  if (ec)
    return unusable(partial, ec);
  if (discarded > 0)
    note = "discarded " + std::to_string(discarded)
           + " partial upload(s) left from an earlier run";
  // Fail now rather than on the first upload if the folder is read-only.
  auto probe = partial + "/.probe";
  {
    std::ofstream out{probe};
    if (!out)
      return unusable(partial,
                      std::make_error_code(std::errc::permission_denied));
  }
  fs::remove(probe, ec);
  return caf::none;
}

caf::error store_server::impl::bind() {
  auto where = cfg.host + ":" + std::to_string(cfg.port);
  auto& ioc = workers.front()->ioc;
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  auto addr = asio::ip::make_address(cfg.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint{addr, cfg.port};
  } else {
    // Not a literal address: resolve it (blocking is fine at start-up).
    tcp::resolver resolver{ioc};
    auto results = resolver.resolve(cfg.host, std::to_string(cfg.port), ec);
    if (ec || results.empty())
      return invalid_setting("host", "cannot resolve '" + cfg.host + "': "
                                       + (ec ? ec.message() : "no address"));
    endpoint = results.begin()->endpoint();
  }
  acceptor = std::make_unique<tcp::acceptor>(ioc);
  auto fail = [&](const char* step) {
    acceptor.reset();
    return make_error(errc::invalid_argument, "objectstore: cannot listen on "
                                                + where + " (" + step
                                                + "): " + ec.message());
  };
  acceptor->open(endpoint.protocol(), ec);
  if (ec)
    return fail("open");
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec)
    return fail("reuse_address");
  acceptor->bind(endpoint, ec);
  if (ec)
    return fail("bind");
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen");
  port = acceptor->local_endpoint(ec).port();
  if (ec)
    return fail("local_endpoint");
  return caf::none;
}

void store_server::impl::accept() {
  // Round robin over the workers: each connection lives on one io_context
  // and talks to CAF through that context's bridge only.
  auto& worker = *workers[next_worker++ % workers.size()];
  acceptor->async_accept(worker.ioc, [this,
                                      &worker](boost::system::error_code ec,
                                               tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open())
      return;
    if (ec) {
      // E.g. out of file descriptors: back off (longer while it goes on)
      // instead of spinning, and log once per interval.
      std::string line;
      auto wait = backoff.failed(ec.message(),
                                 std::chrono::steady_clock::now(), line);
      if (!line.empty())
        ctx->log("objectstore: WARN " + line);
      accept_retry->expires_after(wait);
      accept_retry->async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && acceptor->is_open())
          accept();
      });
      return;
    }
    backoff.succeeded();
    boost::system::error_code opt_ec;
    // Responses are small and final; do not let Nagle hold them back.
    sock.set_option(tcp::no_delay(true), opt_ec);
    auto peer = sock.remote_endpoint(opt_ec);
    if (opt_ec) {
      sock.close(opt_ec);
      accept();
      return;
    }
    common::connection_gate::slot slot;
    auto verdict = common::connection_gate::try_enter(
      gate, common::make_conn_key(peer.address()),
      proxies.contains(peer.address()), slot);
    if (verdict != common::connection_gate::verdict::ok) {
      bool per_client
        = verdict == common::connection_gate::verdict::client_full;
      auto now = std::chrono::steady_clock::now();
      ++refused_since_log;
      if (!last_refusal_log || now - *last_refusal_log >= std::chrono::seconds{5}) {
        last_refusal_log = now;
        ctx->log("objectstore: WARN refused "
                 + std::to_string(refused_since_log)
                 + " connection(s) with 503 SlowDown (last: "
                 + (per_client
                      ? peer.address().to_string() + " holds "
                          + std::to_string(cfg.max_connections_per_client)
                          + " connections"
                      : std::to_string(cfg.max_connections)
                          + " connections open in total")
                 + ")");
        refused_since_log = 0;
      }
      asio::post(worker.ioc, [sock = std::move(sock), budget = refusals,
                              per_client]() mutable {
        common::refuse_connection(std::move(sock), slow_down(per_client),
                                  budget);
      });
    } else {
      asio::post(worker.ioc, [this, &worker, sock = std::move(sock),
                              slot = std::move(slot)]() mutable {
        std::make_shared<session>(*ctx, worker, std::move(sock),
                                  std::move(slot))
          ->start();
      });
    }
    accept();
  });
}

void store_server::impl::run(io_worker& worker) {
  for (;;) {
    try {
      worker.ioc.run();
      return;
    } catch (const std::exception& ex) {
      // Handlers do not throw by design; if one does anyway, keep serving
      // the other connections.
      ctx->log(std::string{"objectstore: unexpected exception on an I/O "
                           "thread: "}
               + ex.what());
    } catch (...) {
      ctx->log("objectstore: ERROR unexpected exception on an I/O thread");
    }
  }
}

void store_server::impl::run_on(io_worker& worker, std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  asio::post(worker.ioc, [fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  if (fut.wait_for(std::chrono::seconds{10}) != std::future_status::ready)
    ctx->log("objectstore: WARN an I/O thread did not respond during shutdown");
}

void store_server::impl::sweep_multipart() {
  auto cutoff = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()
                  - cfg.multipart_expiry)
                  .count();
  asio::post(*pool, [this, cutoff] {
    auto n = expire_uploads(cfg.data_dir, cutoff);
    if (n > 0)
      ctx->log("objectstore: removed " + std::to_string(n)
               + " multipart upload(s) older than store.multipart_expiry");
  });
  multipart_timer->expires_after(cfg.multipart_sweep);
  multipart_timer->async_wait([this](boost::system::error_code ec) {
    if (!ec)
      sweep_multipart();
  });
}

void store_server::impl::recover_markers() {
  // Blocking is fine at start-up; no I/O thread runs yet.
  auto found = ctx->journal().scan(cfg.buckets);
  for (auto& problem : found.problems)
    ctx->log("objectstore: WARN announcement journal: " + problem);
  if (found.stale > 0)
    ctx->log("objectstore: discarded " + std::to_string(found.stale)
             + " announcement marker(s) of uploads that never completed or "
               "were replaced");
  if (found.repaired > 0)
    ctx->log("objectstore: rewrote the metadata of "
             + std::to_string(found.repaired) + " object(s) from their marker");
  if (!found.live.empty())
    ctx->log("objectstore: " + std::to_string(found.live.size())
             + " stored object(s) may not have been announced before the "
               "last stop; they are announced again after recovery");
  for (auto& meta : found.live) {
    // Until its event is answered, no new upload to the key may race it.
    auto hold = ctx->hold_key(meta.bucket, meta.key);
    announcer->adopt(std::move(meta), false, std::move(hold));
  }
}

void store_server::impl::teardown() {
  for (auto& worker : workers) {
    worker->guard.reset();
    worker->ioc.stop();
  }
  for (auto& worker : workers)
    if (worker->thread.joinable())
      worker->thread.join();
  // Lets a running commit finish (its object then stays stored); the result
  // it posts back lands in a stopped io_context and is dropped.
  if (pool)
    pool->join();
  // Single-threaded from here on. Release sessions that only waited for the
  // orchestrator, then the bridges (CAF must not hold anything that touches
  // our io_contexts), then the sockets and contexts themselves.
  for (auto& worker : workers) {
    std::vector<session*> open(worker->sessions.begin(),
                               worker->sessions.end());
    for (auto* s : open)
      s->abort();
  }
  for (auto& worker : workers)
    worker->bridge.reset();
  // Before the io_context its timers belong to; callbacks still queued
  // there hold weak references only.
  announcer.reset();
  if (ctx)
    ctx->adopt_pending = nullptr;
  accept_retry.reset();
  multipart_timer.reset();
  acceptor.reset();
  workers.clear();
  pool.reset();
  running = false;
}

store_server::store_server(caf::actor_system& sys, store_config cfg,
                           messages::object_sink_actor events)
  : impl_(std::make_unique<impl>(sys, std::move(cfg), std::move(events))) {
  // nop
}

store_server::~store_server() {
  stop();
}

caf::error store_server::start() {
  auto& d = *impl_;
  if (d.started)
    return make_error(errc::conflict, "objectstore: already started");
  if (auto err = d.validate())
    return err;
  std::string note;
  if (auto err = d.prepare_dirs(note))
    return err;
  d.started = true;
  d.gate = std::make_shared<common::connection_gate>(
    d.cfg.max_connections, d.cfg.max_connections_per_client);
  {
    std::string why;
    d.proxies.parse(d.cfg.trusted_proxies, why);
  }
  d.ctx = std::make_unique<store_context>(d.cfg, d.events);
  if (!note.empty())
    d.ctx->log("objectstore: " + note);
  d.pool = std::make_unique<asio::thread_pool>(1);
  // One thread, so this names it: the commits' fsyncs run there.
  asio::post(*d.pool, [] { common::name_this_thread("vf.store.sync"); });
  d.ctx->blocking = d.pool.get();
  for (size_t i = 0; i < d.cfg.threads; ++i) {
    auto worker = std::make_unique<io_worker>();
    worker->guard.emplace(worker->ioc.get_executor());
    worker->bridge = std::make_unique<common::asio_bridge>(d.sys, worker->ioc);
    worker->deadlines = std::make_unique<common::request_deadlines>(
      *worker->bridge, worker->ioc, d.cfg.event_timeout);
    d.workers.push_back(std::move(worker));
  }
  if (auto err = d.bind()) {
    d.teardown();
    return err;
  }
  d.accept_retry = std::make_unique<asio::steady_timer>(d.workers.front()->ioc);
  d.multipart_timer
    = std::make_unique<asio::steady_timer>(d.workers.front()->ioc);
  d.sweep_multipart();
  auto& first = *d.workers.front();
  d.announcer = std::make_shared<pending_announcer>(*d.ctx, first);
  d.ctx->adopt_pending = [weak = std::weak_ptr<pending_announcer>{d.announcer},
                          &first](object_meta meta, key_hold hold) {
    asio::post(first.ioc, [weak, meta = std::move(meta),
                           hold = std::move(hold)]() mutable {
      if (auto announcer = weak.lock())
        announcer->adopt(std::move(meta), true, std::move(hold));
    });
  };
  d.recover_markers();
  d.accept();
  for (auto& worker : d.workers)
    worker->thread = std::thread{[&d, w = worker.get()] {
      common::name_this_thread("vf.store");
      d.run(*w);
    }};
  d.running = true;
  d.ctx->log("objectstore: listening on " + d.cfg.host + ":"
             + std::to_string(d.port) + " with " + std::to_string(d.cfg.threads)
             + " I/O thread(s), data in " + d.cfg.data_dir);
  return caf::none;
}

uint16_t store_server::port() const {
  return impl_->port;
}

void store_server::announce_pending() {
  auto& d = *impl_;
  if (!d.running)
    return;
  asio::post(d.workers.front()->ioc,
             [weak = std::weak_ptr<pending_announcer>{d.announcer}] {
               if (auto announcer = weak.lock())
                 announcer->activate();
             });
}

size_t store_server::pending_count() const {
  auto& d = *impl_;
  return d.ctx ? d.ctx->journal().count() : 0;
}

void store_server::stop() {
  auto& d = *impl_;
  if (!d.running)
    return;
  // Stop accepting first (on the acceptor's own thread), so no connection
  // can be handed to a worker that has already been cleared.
  d.run_on(*d.workers.front(), [&d] {
    boost::system::error_code ec;
    d.acceptor->close(ec);
    d.accept_retry->cancel();
    d.multipart_timer->cancel();
    d.announcer->shutdown();
  });
  for (auto& worker : d.workers)
    d.run_on(*worker, [w = worker.get()] {
      std::vector<session*> open(w->sessions.begin(), w->sessions.end());
      for (auto* s : open)
        s->abort();
    });
  d.teardown();
  d.ctx->log("objectstore: stopped");
}

std::string store_server::object_path(const store_config& cfg,
                                      const std::string& bucket,
                                      const std::string& key) {
  if (!is_valid_bucket_name(bucket) || check_key(key))
    return {};
  return object_file(cfg.data_dir, bucket, key);
}

} // namespace vf::adapters::objectstore
