// vf/adapters/redis/event_bus.cpp

#include "vf/adapters/redis/event_bus.hpp"

#include "vf/adapters/redis/streams.hpp"
#include "vf/messages/errc.hpp"

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

namespace vf::adapters::redis {

using messages::errc;
using messages::make_error;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// Commands per pipeline, at most.
constexpr size_t max_batch = 512;

/// A connection with its reconnect policy and outage reporting, shared by
/// every actor here.
class link {
public:
  link(redis_settings cfg, bus_hooks hooks, uint64_t seed, std::string who)
    : conn_(std::move(cfg)),
      backoff_(conn_.settings().reconnect_max, seed),
      hooks_(std::move(hooks)),
      who_(std::move(who)) {
    // nop
  }

  /// Connected, or connected now if an attempt is due; otherwise the
  /// error to answer with (naming when to retry).
  caf::error ready() {
    if (conn_.connected())
      return caf::none;
    auto now = clock_type::now();
    if (!backoff_.due(now))
      return unavailable(backoff_.wait(now));
    if (auto err = conn_.connect()) {
      lost(err);
      return err;
    }
    backoff_.succeeded();
    if (down_) {
      down_ = false;
      if (hooks_.info)
        hooks_.info(who_ + ": redis at " + conn_.settings().address()
                    + " reachable again");
    }
    return caf::none;
  }

  /// The connection failed with `err`: back off, tell once per outage.
  void lost(const caf::error& err) {
    conn_.close();
    backoff_.failed(clock_type::now());
    count("unavailable");
    if (!down_) {
      down_ = true;
      if (hooks_.warn)
        hooks_.warn(who_ + ": " + messages::message_of(err)
                    + "; reconnecting with backoff");
    }
  }

  caf::error unavailable(milliseconds wait) const {
    auto secs = std::max<int64_t>(1, (wait.count() + 999) / 1000);
    return make_error(errc::storage_unavailable,
                      "redis at " + conn_.settings().address()
                        + " is unreachable; retry in about "
                        + std::to_string(secs) + " s");
  }

  milliseconds wait() const {
    return backoff_.wait(clock_type::now());
  }

  void count(const char* op, uint64_t n = 1) const {
    if (hooks_.count && n > 0)
      hooks_.count(op, n);
  }

  void warn(const std::string& text) const {
    if (hooks_.warn)
      hooks_.warn(who_ + ": " + text);
  }

  void info(const std::string& text) const {
    if (hooks_.info)
      hooks_.info(who_ + ": " + text);
  }

  connection& conn() {
    return conn_;
  }

  const redis_settings& settings() const {
    return conn_.settings();
  }

private:
  connection conn_;
  reconnect_backoff backoff_;
  bus_hooks hooks_;
  std::string who_;
  bool down_ = false;
};

/// Sends `msg` to `self` after `delay` unless one is on its way already
/// (`pending` says so; the handler clears it).
template <class Ptr, class Atom>
void send_once(Ptr self, bool& pending, milliseconds delay, Atom msg) {
  if (pending)
    return;
  pending = true;
  if (delay.count() <= 0)
    self->send(self, msg);
  else
    self->delayed_send(self, delay, msg);
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// -- event publisher ----------------------------------------------------------

struct publisher_state {
  std::optional<link> bus;
  std::vector<std::pair<std::vector<std::string>,
                        caf::typed_response_promise<bool>>>
    queue;
  bool flush_pending = false;
  static inline const char* name = "redis-event-publisher";
};

event_publisher_actor::behavior_type
event_publisher(event_publisher_actor::stateful_pointer<publisher_state> self,
                redis_settings cfg, bus_hooks hooks, uint64_t seed) {
  self->state.bus.emplace(std::move(cfg), std::move(hooks), seed,
                          "event publisher");
  return {
    [self](atoms::created,
           const messages::object_event& ev) -> caf::result<bool> {
      auto& st = self->state;
      // What the consumer could not read is refused here, not dropped
      // there (the webhook counts it as rejected, as the orchestrator's
      // refusal in direct mode).
      if (auto err = check_event(ev))
        return err;
      // Fail fast while Redis is away: the source keeps the event.
      if (!st.bus->conn().connected())
        if (auto err = st.bus->ready())
          return err;
      auto rp = self->make_response_promise<bool>();
      st.queue.emplace_back(xadd_event(st.bus->settings().stream, ev), rp);
      // Everything that arrives before the flush joins its pipeline.
      if (!st.flush_pending) {
        st.flush_pending = true;
        self->send(self, atoms::flush_v);
      }
      return rp;
    },
    [self](atoms::flush) {
      auto& st = self->state;
      st.flush_pending = false;
      if (st.queue.empty())
        return;
      auto n = std::min(st.queue.size(), max_batch);
      std::vector<std::vector<std::string>> cmds;
      cmds.reserve(n);
      for (size_t i = 0; i < n; ++i)
        cmds.push_back(std::move(st.queue[i].first));
      std::vector<caf::typed_response_promise<bool>> promises;
      promises.reserve(n);
      for (size_t i = 0; i < n; ++i)
        promises.push_back(std::move(st.queue[i].second));
      st.queue.erase(st.queue.begin(),
                     st.queue.begin() + static_cast<ptrdiff_t>(n));
      if (!st.queue.empty()) {
        st.flush_pending = true;
        self->send(self, atoms::flush_v);
      }
      if (auto err = st.bus->ready()) {
        for (auto& rp : promises)
          rp.deliver(err);
        return;
      }
      auto replies = st.bus->conn().pipeline(cmds);
      if (!replies) {
        st.bus->lost(replies.error());
        auto err = st.bus->unavailable(st.bus->wait());
        for (auto& rp : promises)
          rp.deliver(err);
        return;
      }
      auto refused = [&](size_t i) {
        auto& r = (*replies)[i];
        return r.is_error() || r.kind != reply::string;
      };
      uint64_t ok = 0;
      for (size_t i = 0; i < n; ++i)
        ok += refused(i) ? 0 : 1;
      // Counted before anyone hears of it.
      st.bus->count("published", ok);
      for (size_t i = 0; i < n; ++i) {
        if (!refused(i)) {
          promises[i].deliver(true);
          continue;
        }
        auto what = (*replies)[i].text();
        st.bus->warn("XADD to '" + st.bus->settings().stream
                     + "' refused: " + what);
        promises[i].deliver(make_error(errc::storage_unavailable,
                                       "redis refused the event: " + what));
      }
    },
  };
}

// -- event consumer -----------------------------------------------------------

struct consumer_state {
  consumer_config cfg;
  std::optional<link> bus;
  messages::object_sink_actor sink;
  bool group_ready = false;
  /// Reading this consumer's own pending entries first (from a previous
  /// run), then new ones (`>`).
  bool history = true;
  std::string history_cursor = "0";
  std::string claim_cursor = "0-0";
  clock_type::time_point last_claim{};
  clock_type::time_point last_trim{};
  std::unordered_set<std::string> inflight;
  std::vector<std::string> acks;
  /// Entries of an unknown layout already warned about.
  std::unordered_set<std::string> unknown_layout;
  bool tick_pending = false;
  static inline const char* name = "redis-event-consumer";
};

using consumer_ptr = event_consumer_actor::stateful_pointer<consumer_state>;

void schedule(consumer_ptr self, milliseconds delay) {
  send_once(self, self->state.tick_pending, delay, atoms::tick_v);
}

/// The connection failed: everything is read again once it is back (the
/// entries in flight are not dispatched twice).
void consumer_lost(consumer_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.bus->lost(err);
  st.group_ready = false;
  st.history = true;
  st.history_cursor = "0";
  schedule(self, std::max(st.bus->wait(), milliseconds{50}));
}

/// Runs one group command (`what` names it in the log). Nullopt when it
/// failed: the connection was lost (everything is read again once it is
/// back), or Redis refused it (said; the group is checked again after a
/// pause).
std::optional<reply> group_command(consumer_ptr self,
                                   const std::vector<std::string>& argv,
                                   const char* what) {
  auto& st = self->state;
  auto r = st.bus->conn().run(argv);
  if (!r) {
    consumer_lost(self, r.error());
    return std::nullopt;
  }
  if (r->is_error()) {
    st.bus->warn(std::string{what} + " refused: " + r->str);
    st.group_ready = false;
    schedule(self, milliseconds{100});
    return std::nullopt;
  }
  return std::move(*r);
}

bool rejected(const caf::error& err) {
  if (err.category() != messages::errc_category)
    return false;
  auto code = static_cast<errc>(err.code());
  return code == errc::not_found || code == errc::invalid_argument
         || code == errc::conflict;
}

void dispatch(consumer_ptr self, std::vector<stream_entry>& entries) {
  auto& st = self->state;
  for (auto& e : entries) {
    if (st.inflight.count(e.id) > 0)
      continue;
    if (!known_layout(e)) {
      // Written by a newer vidflow: left pending for a coordinator that
      // reads it (said once per entry).
      if (st.unknown_layout.insert(e.id).second)
        st.bus->warn("stream entry " + e.id + " has layout v="
                     + *e.field("v") + ", which this build does not read; "
                                       "left pending");
      continue;
    }
    auto ev = decode_event(e);
    if (!ev) {
      // Not an event we can ever handle: acknowledged, never retried.
      if (!e.deleted)
        st.bus->warn(messages::message_of(ev.error()) + "; acknowledged");
      st.bus->count("rejected");
      st.acks.push_back(e.id);
      continue;
    }
    // Whoever can write to the stream says what it likes: the
    // orchestrator checks outside objects (HEAD) unless the source is its
    // own store, so no entry may claim to be that.
    ev->source = "redis:" + ev->source;
    if (!st.cfg.trust_digest)
      ev->object.sha256.clear();
    st.inflight.insert(e.id);
    st.bus->count("delivered");
    auto id = e.id;
    self
      ->request(st.sink, st.cfg.request_timeout, atoms::created_v,
                std::move(*ev))
      .then(
        [self, id](bool) {
          auto& st = self->state;
          st.inflight.erase(id);
          st.acks.push_back(id);
          schedule(self, milliseconds{0});
        },
        [self, id](caf::error& err) {
          auto& st = self->state;
          st.inflight.erase(id);
          if (rejected(err)) {
            // Not ours (foreign key, unknown job): as the webhook does.
            st.bus->count("rejected");
            st.acks.push_back(id);
          } else {
            // Stays pending: claimed again after redis.claim_idle_ms.
            st.bus->count("retried");
          }
          schedule(self, milliseconds{0});
        });
  }
}

void consumer_step(consumer_ptr self) {
  auto& st = self->state;
  st.tick_pending = false;
  auto& rs = st.bus->settings();
  if (auto err = st.bus->ready()) {
    schedule(self, std::max(st.bus->wait(), milliseconds{50}));
    return;
  }
  auto& conn = st.bus->conn();
  if (!st.group_ready) {
    // From 0: events published before any coordinator ever ran count.
    auto r = conn.run({"XGROUP", "CREATE", rs.stream, rs.group, "0",
                       "MKSTREAM"});
    if (!r) {
      consumer_lost(self, r.error());
      return;
    }
    if (r->is_error() && !starts_with(r->str, "BUSYGROUP")) {
      st.bus->warn("cannot create consumer group '" + rs.group + "' on '"
                   + rs.stream + "': " + r->str);
      schedule(self, milliseconds{1000});
      return;
    }
    st.group_ready = true;
  }
  if (!st.acks.empty()) {
    std::vector<std::string> argv{"XACK", rs.stream, rs.group};
    argv.insert(argv.end(), st.acks.begin(), st.acks.end());
    if (!group_command(self, argv, "XACK"))
      return;
    st.bus->count("acked", st.acks.size());
    st.acks.clear();
  }
  auto capacity = [&st] {
    return st.cfg.max_inflight > st.inflight.size()
             ? st.cfg.max_inflight - st.inflight.size()
             : size_t{0};
  };
  auto now = clock_type::now();
  auto claim_every = std::max(rs.claim_idle / 2, milliseconds{100});
  // A scan of the pending list that is not complete goes on at once.
  auto claim_due = now - st.last_claim >= claim_every
                   || st.claim_cursor != "0-0";
  if (capacity() > 0 && st.group_ready && claim_due) {
    st.last_claim = now;
    auto r
      = group_command(self,
                      {"XAUTOCLAIM", rs.stream, rs.group, rs.consumer,
                       std::to_string(rs.claim_idle.count()), st.claim_cursor,
                       "COUNT", std::to_string(capacity())},
                      "XAUTOCLAIM");
    if (!r)
      return;
    auto res = parse_autoclaim(*r);
    st.claim_cursor = res.cursor;
    if (!res.entries.empty()) {
      st.bus->count("reclaimed", res.entries.size());
      st.bus->info("claimed " + std::to_string(res.entries.size())
                   + " entr(ies) left pending longer than "
                   + std::to_string(rs.claim_idle.count()) + " ms");
    }
    dispatch(self, res.entries);
  }
  if (auto cap = capacity(); cap > 0 && st.group_ready) {
    std::vector<std::string> argv{"XREADGROUP", "GROUP", rs.group,
                                  rs.consumer, "COUNT", std::to_string(cap)};
    if (!st.history) {
      auto idle = st.inflight.empty() && st.acks.empty();
      argv.emplace_back("BLOCK");
      argv.emplace_back(
        std::to_string(idle ? st.cfg.block.count() : int64_t{10}));
    }
    argv.emplace_back("STREAMS");
    argv.emplace_back(rs.stream);
    argv.emplace_back(st.history ? st.history_cursor : std::string{">"});
    auto r = group_command(self, argv, "XREADGROUP");
    if (!r)
      return;
    auto entries = parse_read(*r);
    if (st.history) {
      if (entries.empty())
        st.history = false;
      else
        st.history_cursor = entries.back().id;
    }
    dispatch(self, entries);
  }
  // Only with the group in place: without it the stream looks group-less
  // and would be cut to max_length.
  if (st.group_ready && now - st.last_trim >= st.cfg.trim_every) {
    st.last_trim = now;
    auto n = trim_stream(conn, rs.stream, rs.max_length);
    if (!n) {
      consumer_lost(self, n.error());
      return;
    }
    st.bus->count("trimmed", *n);
  }
  // At capacity the replies tick us; otherwise read on (XREADGROUP BLOCK
  // paces an idle loop).
  if (capacity() > 0 || !st.acks.empty())
    schedule(self, milliseconds{0});
}

event_consumer_actor::behavior_type
event_consumer(consumer_ptr self, consumer_config cfg,
               messages::object_sink_actor sink) {
  auto& st = self->state;
  st.bus.emplace(cfg.redis, cfg.hooks, cfg.seed, "event consumer");
  st.cfg = std::move(cfg);
  st.sink = std::move(sink);
  schedule(self, milliseconds{0});
  return {
    [self](atoms::tick) { consumer_step(self); },
  };
}

// -- completion publisher ----------------------------------------------------

struct completion_state {
  std::optional<link> bus;
  std::deque<std::vector<std::string>> queue;
  size_t max_buffered = 0;
  uint64_t dropped = 0;
  uint64_t since_trim = 0;
  bool flush_pending = false;
  static inline const char* name = "redis-completion-publisher";
};

using completion_ptr = completion_actor::stateful_pointer<completion_state>;

void completion_schedule(completion_ptr self, milliseconds delay) {
  send_once(self, self->state.flush_pending, delay, atoms::flush_v);
}

void completion_flush(completion_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (st.queue.empty())
    return;
  if (st.bus->ready()) {
    completion_schedule(self, std::max(st.bus->wait(), milliseconds{50}));
    return;
  }
  auto n = std::min(st.queue.size(), max_batch);
  std::vector<std::vector<std::string>> cmds(st.queue.begin(),
                                             st.queue.begin()
                                               + static_cast<ptrdiff_t>(n));
  auto replies = st.bus->conn().pipeline(cmds);
  if (!replies) {
    st.bus->lost(replies.error());
    completion_schedule(self, std::max(st.bus->wait(), milliseconds{50}));
    return;
  }
  st.queue.erase(st.queue.begin(),
                 st.queue.begin() + static_cast<ptrdiff_t>(n));
  uint64_t ok = 0;
  for (auto& r : *replies) {
    if (r.is_error())
      st.bus->warn("XADD to '" + st.bus->settings().completions
                   + "' refused: " + r.str + " (entry dropped)");
    else
      ++ok;
  }
  st.bus->count("completions", ok);
  if (st.dropped > 0) {
    st.bus->warn(std::to_string(st.dropped)
                 + " completion entr(ies) dropped while redis was away "
                   "(buffer full)");
    st.dropped = 0;
  }
  st.since_trim += n;
  if (st.since_trim >= 1000) {
    st.since_trim = 0;
    auto t = trim_stream(st.bus->conn(), st.bus->settings().completions,
                         st.bus->settings().max_length);
    if (!t)
      st.bus->lost(t.error());
    else
      st.bus->count("trimmed", *t);
  }
  if (!st.queue.empty())
    completion_schedule(self, milliseconds{0});
}

completion_actor::behavior_type
completion_publisher(completion_ptr self, redis_settings cfg,
                     bus_hooks hooks, uint64_t seed, size_t max_buffered) {
  self->state.bus.emplace(std::move(cfg), std::move(hooks), seed,
                          "completion publisher");
  self->state.max_buffered = std::max<size_t>(max_buffered, 1);
  return {
    [self](atoms::events, const messages::job& j, int64_t duration_ms) {
      auto& st = self->state;
      if (st.queue.size() >= st.max_buffered) {
        st.queue.pop_front();
        ++st.dropped;
      }
      st.queue.push_back(
        xadd_completion(st.bus->settings().completions, j, duration_ms));
      completion_schedule(self, milliseconds{0});
    },
    [self](atoms::flush) { completion_flush(self); },
  };
}

// -- claims -------------------------------------------------------------------

struct claims_state {
  std::optional<link> bus;
  static inline const char* name = "redis-claims";
};

messages::claim_store_actor::behavior_type
redis_claims(messages::claim_store_actor::stateful_pointer<claims_state> self,
             redis_settings cfg, bus_hooks hooks, uint64_t seed) {
  self->state.bus.emplace(std::move(cfg), std::move(hooks), seed,
                          "claims");
  return {
    [self](atoms::claim, const std::string& key,
           const std::string& job_id) -> caf::result<bool> {
      auto& bus = *self->state.bus;
      if (auto err = bus.ready())
        return err;
      auto& rs = bus.settings();
      std::vector<std::string> argv{"SET", rs.key_prefix + "claim:" + key,
                                    job_id, "NX"};
      if (rs.claim_ttl.count() > 0) {
        argv.emplace_back("PX");
        argv.emplace_back(std::to_string(rs.claim_ttl.count()));
      }
      auto r = bus.conn().run(argv);
      if (!r) {
        bus.lost(r.error());
        return std::move(r.error());
      }
      if (r->is_error())
        return make_error(errc::storage_unavailable,
                          "redis refused the claim: " + r->str);
      // OK: ours; nil: someone claimed it first.
      return r->kind == reply::status;
    },
  };
}

} // namespace

caf::expected<uint64_t> trim_stream(connection& conn,
                                    const std::string& stream,
                                    uint64_t max_length) {
  auto info = conn.run({"XINFO", "GROUPS", stream});
  if (!info)
    return std::move(info.error());
  if (info->is_error())
    return uint64_t{0}; // no such stream yet
  auto groups = parse_groups(*info);
  for (auto& g : groups) {
    if (g.pending == 0)
      continue;
    auto p = conn.run({"XPENDING", stream, g.name});
    if (!p)
      return std::move(p.error());
    if (p->kind == reply::array && p->elements.size() >= 2)
      g.min_pending = p->elements[1].text();
  }
  auto floor = trim_floor(groups);
  caf::expected<reply> r{reply{}};
  if (floor)
    r = conn.run({"XTRIM", stream, "MINID", "~", floor->str()});
  else if (max_length > 0)
    r = conn.run({"XTRIM", stream, "MAXLEN", "~", std::to_string(max_length)});
  else
    return uint64_t{0};
  if (!r)
    return std::move(r.error());
  if (r->kind != reply::integer)
    return uint64_t{0};
  return static_cast<uint64_t>(std::max<int64_t>(r->integer_value, 0));
}

event_publisher_actor spawn_event_publisher(caf::actor_system& sys,
                                            redis_settings cfg,
                                            bus_hooks hooks, uint64_t seed) {
  return sys.spawn<caf::detached>(event_publisher, std::move(cfg),
                                  std::move(hooks), seed);
}

event_consumer_actor spawn_event_consumer(caf::actor_system& sys,
                                          consumer_config cfg,
                                          messages::object_sink_actor sink) {
  return sys.spawn<caf::detached>(event_consumer, std::move(cfg),
                                  std::move(sink));
}

completion_actor spawn_completion_publisher(caf::actor_system& sys,
                                            redis_settings cfg,
                                            bus_hooks hooks, uint64_t seed,
                                            size_t max_buffered) {
  return sys.spawn<caf::detached>(completion_publisher, std::move(cfg),
                                  std::move(hooks), seed, max_buffered);
}

messages::claim_store_actor spawn_redis_claims(caf::actor_system& sys,
                                               redis_settings cfg,
                                               bus_hooks hooks,
                                               uint64_t seed) {
  return sys.spawn<caf::detached>(redis_claims, std::move(cfg),
                                  std::move(hooks), seed);
}

} // namespace vf::adapters::redis
