// vf/adapters/http/stream_limits.cpp

#include "vf/adapters/http/stream_limits.hpp"

namespace vf::adapters::http {

stream_limits::stream_limits(size_t total, size_t per_user)
  : total_(total), per_user_(per_user) {
  // nop
}

std::shared_ptr<void> stream_limits::acquire(const std::string& user,
                                             std::string& why) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (open_ >= total_) {
      why = "this node streams to " + std::to_string(total_)
            + " clients already (http.max_streams); try again shortly";
      return nullptr;
    }
    auto& mine = by_user_[user];
    if (mine >= per_user_) {
      why = "you follow " + std::to_string(per_user_)
            + " jobs live already (http.max_streams_per_user); close one "
              "first";
      return nullptr;
    }
    ++mine;
    ++open_;
  }
  // Not a real object: only its deleter matters.
  return std::shared_ptr<void>(this, [user](stream_limits* self) {
    self->release(user);
  });
}

size_t stream_limits::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_;
}

void stream_limits::release(const std::string& user) {
  std::lock_guard<std::mutex> guard{mtx_};
  --open_;
  if (auto i = by_user_.find(user); i != by_user_.end() && --i->second == 0)
    by_user_.erase(i);
}

} // namespace vf::adapters::http
