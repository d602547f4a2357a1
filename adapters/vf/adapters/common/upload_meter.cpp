// vf/adapters/common/upload_meter.cpp

#include "vf/adapters/common/upload_meter.hpp"

#include <utility>

namespace vf::adapters::common {

std::string upload_meter::id_of(const std::string& bucket,
                                const std::string& key) {
  // A bucket name has no '/', so the first one separates.
  std::string result;
  result.reserve(bucket.size() + key.size() + 1);
  result += bucket;
  result += '/';
  result += key;
  return result;
}

void upload_meter::begin(const std::string& bucket, const std::string& key,
                         uint64_t expected) {
  std::lock_guard<std::mutex> guard{mtx_};
  uploads_[id_of(bucket, key)] = upload_bytes{0, expected};
}

void upload_meter::update(const std::string& bucket, const std::string& key,
                          uint64_t received) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = uploads_.find(id_of(bucket, key)); i != uploads_.end())
    i->second.received = received;
}

void upload_meter::end(const std::string& bucket, const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  uploads_.erase(id_of(bucket, key));
}

std::optional<upload_bytes>
upload_meter::find(const std::string& bucket, const std::string& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = uploads_.find(id_of(bucket, key)); i != uploads_.end())
    return i->second;
  return std::nullopt;
}

metered_upload::metered_upload(std::shared_ptr<upload_meter> meter,
                               std::string bucket, std::string key,
                               uint64_t expected)
  : meter_(std::move(meter)), bucket_(std::move(bucket)),
    key_(std::move(key)) {
  if (meter_)
    meter_->begin(bucket_, key_, expected);
}

metered_upload::metered_upload(metered_upload&& other) noexcept
  : meter_(std::move(other.meter_)), bucket_(std::move(other.bucket_)),
    key_(std::move(other.key_)) {
  other.meter_.reset();
}

metered_upload& metered_upload::operator=(metered_upload&& other) noexcept {
  if (this != &other) {
    if (meter_)
      meter_->end(bucket_, key_);
    meter_ = std::move(other.meter_);
    bucket_ = std::move(other.bucket_);
    key_ = std::move(other.key_);
    other.meter_.reset();
  }
  return *this;
}

metered_upload::~metered_upload() {
  if (meter_)
    meter_->end(bucket_, key_);
}

void metered_upload::update(uint64_t received) {
  if (meter_)
    meter_->update(bucket_, key_, received);
}

} // namespace vf::adapters::common
