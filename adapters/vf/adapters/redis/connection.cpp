// vf/adapters/redis/connection.cpp

#include "vf/adapters/redis/connection.hpp"

#include "vf/messages/errc.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <sys/time.h>
#include <utility>

namespace vf::adapters::redis {

using messages::errc;
using messages::make_error;

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

reply copy_reply(const redisReply* r) {
  reply x;
  if (r == nullptr)
    return x;
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      x.kind = reply::status;
      x.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      x.kind = reply::error;
      x.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      x.kind = reply::integer;
      x.integer_value = r->integer;
      break;
    case REDIS_REPLY_STRING:
      x.kind = reply::string;
      x.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      x.kind = reply::array;
      x.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i)
        x.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      x.kind = reply::nil;
  }
  return x;
}

struct argv_view {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  explicit argv_view(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
};

} // namespace

std::string redis_settings::address() const {
  return host + ":" + std::to_string(port);
}

std::string reply::text() const {
  if (kind == integer)
    return std::to_string(integer_value);
  return str;
}

connection::connection(redis_settings cfg) : cfg_(std::move(cfg)) {
  // nop
}

connection::~connection() {
  close();
}

connection::connection(connection&& other) noexcept
  : cfg_(std::move(other.cfg_)), ctx_(std::exchange(other.ctx_, nullptr)) {
  // nop
}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    cfg_ = std::move(other.cfg_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void connection::close() noexcept {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

caf::error connection::broken(const char* what) {
  std::string why = ctx_ != nullptr && ctx_->errstr[0] != '\0'
                      ? std::string{ctx_->errstr}
                      : std::string{"connection lost"};
  close();
  return make_error(errc::storage_unavailable,
                    "redis at " + cfg_.address() + " unreachable (" + what
                      + ": " + why + ")");
}

caf::error connection::connect() {
  if (ctx_ != nullptr)
    return caf::none;
  auto tv = to_timeval(cfg_.connect_timeout);
  ctx_ = redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, tv);
  if (ctx_ == nullptr)
    return make_error(errc::storage_unavailable,
                      "redis at " + cfg_.address()
                        + ": cannot allocate a connection");
  if (ctx_->err != 0)
    return broken("connect");
  auto cmd_tv = to_timeval(cfg_.command_timeout);
  if (redisSetTimeout(ctx_, cmd_tv) != REDIS_OK)
    return broken("set timeout");
  redisEnableKeepAlive(ctx_);
  auto check = [this](const std::vector<std::string>& argv,
                      const char* what) -> caf::error {
    auto r = run(argv);
    if (!r)
      return std::move(r.error());
    if (r->is_error()) {
      close();
      // The server's words, never the password.
      return make_error(errc::storage_unavailable,
                        "redis at " + cfg_.address() + ": " + what
                          + " refused: " + r->str);
    }
    return caf::none;
  };
  if (!cfg_.password.empty())
    if (auto err = check({"AUTH", cfg_.password}, "AUTH"))
      return err;
  if (cfg_.db != 0)
    if (auto err = check({"SELECT", std::to_string(cfg_.db)}, "SELECT"))
      return err;
  // A server that accepts and then drops us (maxclients, protected mode)
  // is not reachable: only an answer counts.
  if (auto err = check({"PING"}, "PING"))
    return err;
  return caf::none;
}

caf::expected<reply> connection::run(const std::vector<std::string>& argv) {
  if (auto err = connect())
    return err;
  argv_view v{argv};
  auto* raw = static_cast<redisReply*>(redisCommandArgv(
    ctx_, static_cast<int>(argv.size()), v.ptrs.data(), v.lens.data()));
  if (raw == nullptr)
    return broken(argv.empty() ? "command" : argv.front().c_str());
  auto x = copy_reply(raw);
  freeReplyObject(raw);
  return x;
}

caf::expected<std::vector<reply>>
connection::pipeline(const std::vector<std::vector<std::string>>& cmds) {
  if (auto err = connect())
    return err;
  for (auto& argv : cmds) {
    argv_view v{argv};
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()),
                               v.ptrs.data(), v.lens.data())
        != REDIS_OK)
      return broken("pipeline");
  }
  std::vector<reply> out;
  out.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
      return broken("pipeline");
    out.push_back(copy_reply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return out;
}

// -- reconnect_backoff --------------------------------------------------------

reconnect_backoff::reconnect_backoff(std::chrono::milliseconds max,
                                     uint64_t seed)
  : max_(std::max(max, std::chrono::milliseconds{100})),
    state_(seed | 1) {
  // nop
}

std::chrono::milliseconds
reconnect_backoff::failed(std::chrono::steady_clock::time_point now) {
  // xorshift64*: jitter only, nothing secret.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  auto r = state_ * 2685821657736338717ULL;
  // Full jitter in [step/2, step].
  auto half = step_.count() / 2;
  auto wait = std::chrono::milliseconds{
    half + static_cast<int64_t>(r % static_cast<uint64_t>(half + 1))};
  next_ = now + wait;
  step_ = std::min(step_ * 2, max_);
  return wait;
}

void reconnect_backoff::succeeded() noexcept {
  step_ = std::chrono::milliseconds{100};
  next_ = {};
}

std::chrono::milliseconds reconnect_backoff::wait(
  std::chrono::steady_clock::time_point now) const noexcept {
  if (now >= next_)
    return std::chrono::milliseconds{0};
  return std::chrono::duration_cast<std::chrono::milliseconds>(next_ - now);
}

} // namespace vf::adapters::redis
