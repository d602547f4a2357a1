// vf/adapters/common/upload_meter.hpp
//
// How far the uploads streaming into the built-in store got, for live
// progress (`GET /jobs/{id}/events` sends `upload` events): the store's
// sessions write, the API's I/O threads read. Thread-safe.

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace vf::adapters::common {

/// Bytes received so far of one upload and the length it announced.
struct upload_bytes {
  uint64_t received = 0;
  /// `Content-Length` of the upload; 0 if it announced none.
  uint64_t expected = 0;
};

/// The uploads in flight, by bucket and key. Bounded by the store's
/// connection limit: an entry lives as long as its upload.
class upload_meter {
public:
  /// Marks the start of an upload of `expected` bytes to `bucket`/`key`.
  void begin(const std::string& bucket, const std::string& key,
             uint64_t expected);

  /// Records `received` bytes (a running total) of that upload.
  void update(const std::string& bucket, const std::string& key,
              uint64_t received);

  /// Forgets the upload (stored, failed or abandoned).
  void end(const std::string& bucket, const std::string& key);

  /// How far the upload to `bucket`/`key` got, if one is in flight.
  std::optional<upload_bytes> find(const std::string& bucket,
                                   const std::string& key) const;

private:
  static std::string id_of(const std::string& bucket, const std::string& key);

  mutable std::mutex mtx_;
  std::map<std::string, upload_bytes> uploads_;
};

/// One upload's entry in a meter, removed when this goes (move-only).
/// Does nothing without a meter.
class metered_upload {
public:
  metered_upload() = default;

  /// Begins the entry of an upload of `expected` bytes.
  metered_upload(std::shared_ptr<upload_meter> meter, std::string bucket,
                 std::string key, uint64_t expected);

  metered_upload(metered_upload&& other) noexcept;
  metered_upload& operator=(metered_upload&& other) noexcept;
  metered_upload(const metered_upload&) = delete;
  metered_upload& operator=(const metered_upload&) = delete;

  /// Ends the entry.
  ~metered_upload();

  /// Records `received` bytes so far.
  void update(uint64_t received);

private:
  std::shared_ptr<upload_meter> meter_;
  std::string bucket_;
  std::string key_;
};

} // namespace vf::adapters::common
