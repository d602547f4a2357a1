// vf/adapters/objectstore/store_context.cpp

#include "vf/adapters/objectstore/store_context.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>

namespace vf::adapters::objectstore {

store_context::store_context(store_config cfg,
                             messages::object_sink_actor events)
  : cfg_(std::move(cfg)), events_(std::move(events)),
    journal_(cfg_.data_dir) {
  // A random prefix keeps request ids of restarted servers apart.
  std::random_device rd;
  request_prefix_ = (uint64_t{rd()} << 32 | rd()) & 0xFFFFFFFF00000000;
}

std::string store_context::next_request_id() {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIX64,
                request_prefix_ | (++request_counter_ & 0xFFFFFFFF));
  return buf;
}

void store_context::release_pending(std::string version) {
  boost::asio::post(*blocking, [this, version = std::move(version)] {
    if (auto err = journal_.erase(version))
      log("objectstore: ERROR " + err->what + ": " + err->code.message()
          + " (the object may be announced once more after a restart)");
  });
}

key_hold store_context::claim(const std::string& bucket,
                               const std::string& key, bool exclusive) {
  auto name = bucket;
  name += '\0';
  name += key;
  {
    std::lock_guard<std::mutex> guard{held_mtx_};
    auto& n = held_[name];
    if (exclusive && n > 0)
      return nullptr;
    ++n;
  }
  // A non-null pointer to nothing in particular: only the deleter matters.
  return key_hold{this, [this, name = std::move(name)](void*) {
                    std::lock_guard<std::mutex> guard{held_mtx_};
                    auto i = held_.find(name);
                    if (i != held_.end() && --i->second == 0)
                      held_.erase(i);
                  }};
}

key_hold store_context::try_hold_key(const std::string& bucket,
                                     const std::string& key) {
  return claim(bucket, key, true);
}

key_hold store_context::hold_key(const std::string& bucket,
                                 const std::string& key) {
  return claim(bucket, key, false);
}

int64_t store_context::now() const {
  if (cfg_.now)
    return cfg_.now();
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

void store_context::log(std::string line) const {
  if (cfg_.log)
    cfg_.log(std::move(line));
}

void store_context::count_event(const std::string& outcome) const {
  if (cfg_.on_event)
    cfg_.on_event(outcome);
}

bool store_context::has_bucket(std::string_view bucket) const {
  return std::find(cfg_.buckets.begin(), cfg_.buckets.end(), bucket)
         != cfg_.buckets.end();
}

std::optional<std::string>
store_context::secret_for(std::string_view access_key) const {
  for (auto& key : cfg_.keys)
    if (key.access_key == access_key)
      return key.secret_key;
  return std::nullopt;
}

} // namespace vf::adapters::objectstore
