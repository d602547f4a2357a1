// vf/adapters/common/upload_meter.cpp

#include "vf/adapters/common/upload_meter.hpp"

#include <algorithm>
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
  auto id = id_of(bucket, key);
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = uploads_.find(id); i != uploads_.end())
    return i->second;
  auto i = multipart_.find(id);
  if (i == multipart_.end())
    return std::nullopt;
  upload_bytes result;
  result.expected = i->second.expected;
  for (auto& [part, n] : i->second.stored)
    if (i->second.streaming.count(part) == 0)
      result.received += n;
  for (auto& [part, n] : i->second.streaming)
    result.received += n;
  return result;
}

upload_meter::multipart_bytes&
upload_meter::multipart_entry(const std::string& id) {
  auto i = multipart_.find(id);
  if (i == multipart_.end()) {
    if (multipart_.size() >= max_multipart) {
      // Room for the new one: the upload untouched for longest goes.
      auto oldest = std::min_element(
        multipart_.begin(), multipart_.end(), [](auto& x, auto& y) {
          return x.second.touched < y.second.touched;
        });
      multipart_.erase(oldest);
    }
    i = multipart_.emplace(id, multipart_bytes{}).first;
  }
  i->second.touched = ++clock_;
  return i->second;
}

void upload_meter::declare(const std::string& bucket, const std::string& key,
                           uint64_t total) {
  std::lock_guard<std::mutex> guard{mtx_};
  multipart_entry(id_of(bucket, key)).expected = total;
}

void upload_meter::part_update(const std::string& bucket,
                               const std::string& key, uint32_t part,
                               uint64_t received) {
  std::lock_guard<std::mutex> guard{mtx_};
  multipart_entry(id_of(bucket, key)).streaming[part] = received;
}

void upload_meter::part_end(const std::string& bucket, const std::string& key,
                            uint32_t part, bool stored, uint64_t bytes) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = multipart_.find(id_of(bucket, key));
  if (i == multipart_.end())
    return;
  i->second.streaming.erase(part);
  if (stored)
    i->second.stored[part] = bytes;
}

void upload_meter::forget(const std::string& bucket, const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  multipart_.erase(id_of(bucket, key));
}

metered_upload::metered_upload(std::shared_ptr<upload_meter> meter,
                               std::string bucket, std::string key,
                               uint64_t expected)
  : meter_(std::move(meter)), bucket_(std::move(bucket)),
    key_(std::move(key)) {
  if (meter_)
    meter_->begin(bucket_, key_, expected);
}

metered_upload::metered_upload(std::shared_ptr<upload_meter> meter,
                               std::string bucket, std::string key,
                               uint32_t part)
  : meter_(std::move(meter)), bucket_(std::move(bucket)),
    key_(std::move(key)), part_(part) {
  if (meter_)
    meter_->part_update(bucket_, key_, part_, 0);
}

metered_upload::metered_upload(metered_upload&& other) noexcept
  : meter_(std::move(other.meter_)), bucket_(std::move(other.bucket_)),
    key_(std::move(other.key_)), part_(other.part_) {
  other.meter_.reset();
}

metered_upload& metered_upload::operator=(metered_upload&& other) noexcept {
  if (this != &other) {
    end(false, 0);
    meter_ = std::move(other.meter_);
    bucket_ = std::move(other.bucket_);
    key_ = std::move(other.key_);
    part_ = other.part_;
    other.meter_.reset();
  }
  return *this;
}

metered_upload::~metered_upload() {
  end(false, 0);
}

void metered_upload::end(bool stored, uint64_t bytes) {
  if (!meter_)
    return;
  if (part_ > 0)
    meter_->part_end(bucket_, key_, part_, stored, bytes);
  else
    meter_->end(bucket_, key_);
  meter_.reset();
}

void metered_upload::stored(uint64_t bytes) {
  end(true, bytes);
}

void metered_upload::update(uint64_t received) {
  if (meter_ && part_ > 0)
    meter_->part_update(bucket_, key_, part_, received);
  else if (meter_)
    meter_->update(bucket_, key_, received);
}

} // namespace vf::adapters::common
