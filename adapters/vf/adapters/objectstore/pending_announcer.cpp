// vf/adapters/objectstore/pending_announcer.cpp

#include "vf/adapters/objectstore/pending_announcer.hpp"

#include <boost/asio/post.hpp>

#include "caf/error.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/object_event.hpp"

#include <algorithm>

namespace vf::adapters::objectstore {

namespace asio = boost::asio;

namespace {

std::string describe(const object_meta& meta) {
  return meta.bucket + "/" + meta.key + " version " + meta.version;
}

} // namespace

pending_announcer::pending_announcer(store_context& ctx, io_worker& worker)
  : ctx_(ctx), worker_(worker) {
  // nop
}

void pending_announcer::adopt(object_meta meta, bool delay, key_hold hold) {
  if (stopped_)
    return;
  auto version = meta.version;
  auto [i, added] = entries_.emplace(version, entry{});
  if (!added)
    return;
  i->second.meta = std::move(meta);
  i->second.hold = std::move(hold);
  i->second.backoff = ctx_.config().announce_backoff_min;
  i->second.timer = std::make_unique<asio::steady_timer>(worker_.ioc);
  if (!active_)
    return;
  if (delay)
    retry_later(version);
  else
    attempt(version);
}

void pending_announcer::activate() {
  if (active_ || stopped_)
    return;
  active_ = true;
  if (!entries_.empty())
    ctx_.log("objectstore: announcing " + std::to_string(entries_.size())
             + " stored object(s) whose event may not have reached the "
               "orchestrator");
  std::vector<std::string> versions;
  for (auto& [version, e] : entries_)
    if (!e.busy && !e.scheduled)
      versions.push_back(version);
  for (auto& version : versions)
    attempt(version);
}

void pending_announcer::shutdown() {
  stopped_ = true;
  for (auto& [version, e] : entries_)
    e.timer->cancel();
}

void pending_announcer::attempt(const std::string& version) {
  auto i = entries_.find(version);
  if (stopped_ || i == entries_.end() || i->second.busy)
    return;
  i->second.busy = true;
  std::weak_ptr<pending_announcer> weak = shared_from_this();
  auto* ctx = &ctx_;
  auto* ioc = &worker_.ioc;
  asio::post(*ctx_.blocking, [weak, ctx, ioc, meta = i->second.meta] {
    // The object may have been replaced by a later upload (which has its
    // own marker) or removed: announcing it would name bytes that are gone.
    auto current = ctx->journal().is_current(meta);
    if (!current) {
      ctx->log("objectstore: dropping the announcement of " + describe(meta)
               + ": the object was replaced or removed meanwhile");
      if (auto err = ctx->journal().erase(meta.version))
        ctx->log("objectstore: ERROR " + err->what + ": " + err->code.message());
    }
    asio::post(*ioc, [weak, current, version = meta.version] {
      auto self = weak.lock();
      if (!self)
        return;
      if (!current) {
        self->entries_.erase(version);
        return;
      }
      self->send(version);
    });
  });
}

void pending_announcer::send(const std::string& version) {
  auto i = entries_.find(version);
  if (i == entries_.end())
    return;
  if (stopped_) {
    i->second.busy = false;
    return;
  }
  auto& meta = i->second.meta;
  messages::object_event evt{"s3:ObjectCreated:Put", "builtin",
                             messages::object_ref{meta.bucket, meta.key,
                                                  meta.version, meta.etag,
                                                  meta.size, {}, meta.sha256}};
  std::weak_ptr<pending_announcer> weak = shared_from_this();
  worker_.bridge->self()
    ->request(ctx_.events(), ctx_.config().event_timeout, atoms::created_v,
              std::move(evt))
    .then(
      [weak, version](bool accepted) {
        if (auto self = weak.lock()) {
          self->ctx_.count_event(accepted ? "accepted" : "duplicate");
          self->finish(version);
        }
      },
      [weak, version](caf::error& err) {
        auto self = weak.lock();
        if (!self)
          return;
        auto i = self->entries_.find(version);
        if (i == self->entries_.end())
          return;
        auto what = messages::message_of(err);
        auto code = messages::errc_of(err);
        if (code == messages::errc::not_found
            || code == messages::errc::invalid_argument
            || code == messages::errc::conflict) {
          // No job expects it: nothing to redo, ever.
          self->ctx_.count_event("rejected");
          self->ctx_.log("objectstore: WARN the orchestrator refused the event of "
                         + describe(i->second.meta) + " (" + what
                         + "); not announcing it again");
          self->finish(version);
          return;
        }
        self->ctx_.count_event("error");
        self->ctx_.log("objectstore: WARN announcing " + describe(i->second.meta)
                       + " failed (" + what + "); retrying in "
                       + std::to_string(i->second.backoff.count()) + " ms");
        i->second.busy = false;
        self->retry_later(version);
      });
}

void pending_announcer::finish(const std::string& version) {
  entries_.erase(version);
  ctx_.release_pending(version);
}

void pending_announcer::retry_later(const std::string& version) {
  auto i = entries_.find(version);
  if (stopped_ || i == entries_.end() || i->second.scheduled)
    return;
  auto& e = i->second;
  e.scheduled = true;
  e.timer->expires_after(e.backoff);
  e.backoff = std::min(e.backoff * 2, ctx_.config().announce_backoff_max);
  std::weak_ptr<pending_announcer> weak = shared_from_this();
  e.timer->async_wait([weak, version](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self)
      return;
    auto i = self->entries_.find(version);
    if (i == self->entries_.end())
      return;
    i->second.scheduled = false;
    if (!ec)
      self->attempt(version);
  });
}

} // namespace vf::adapters::objectstore
