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

  /// How far the upload to `bucket`/`key` got, if one is in flight: a
  /// single PUT, or a multipart upload's stored parts plus those in
  /// flight (expected: the size its client declared, 0 if none).
  std::optional<upload_bytes> find(const std::string& bucket,
                                   const std::string& key) const;

  /// Multipart uploads: the whole file will be `total` bytes (as its
  /// client declared when it started the upload).
  void declare(const std::string& bucket, const std::string& key,
               uint64_t total);

  /// Part `part` of the multipart upload to `bucket`/`key` is streaming
  /// in; `received` bytes so far (a running total).
  void part_update(const std::string& bucket, const std::string& key,
                   uint32_t part, uint64_t received);

  /// Part `part` is no longer streaming: stored with `bytes` (a part
  /// sent again replaces the earlier one) or, with `stored` false, lost.
  void part_end(const std::string& bucket, const std::string& key,
                uint32_t part, bool stored, uint64_t bytes);

  /// The multipart upload to `bucket`/`key` was completed or aborted.
  void forget(const std::string& bucket, const std::string& key);

  /// Most multipart uploads metered at once (an abandoned upload is
  /// forgotten when newer ones need its room, oldest first).
  static constexpr size_t max_multipart = 4096;

private:
  struct multipart_bytes {
    uint64_t expected = 0;
    std::map<uint32_t, uint64_t> stored;
    std::map<uint32_t, uint64_t> streaming;
    uint64_t touched = 0;
  };

  static std::string id_of(const std::string& bucket, const std::string& key);

  multipart_bytes& multipart_entry(const std::string& id);

  mutable std::mutex mtx_;
  std::map<std::string, upload_bytes> uploads_;
  std::map<std::string, multipart_bytes> multipart_;
  uint64_t clock_ = 0;
};

/// One upload's entry in a meter, removed when this goes (move-only).
/// Does nothing without a meter.
class metered_upload {
public:
  metered_upload() = default;

  /// Begins the entry of an upload of `expected` bytes.
  metered_upload(std::shared_ptr<upload_meter> meter, std::string bucket,
                 std::string key, uint64_t expected);

  /// Begins the entry of part `part` (1..) of a multipart upload.
  metered_upload(std::shared_ptr<upload_meter> meter, std::string bucket,
                 std::string key, uint32_t part);

  metered_upload(metered_upload&& other) noexcept;
  metered_upload& operator=(metered_upload&& other) noexcept;
  metered_upload(const metered_upload&) = delete;
  metered_upload& operator=(const metered_upload&) = delete;

  /// Ends the entry.
  ~metered_upload();

  /// Records `received` bytes so far.
  void update(uint64_t received);

  /// A part was stored with `bytes`: it counts from now on (a single
  /// upload just ends).
  void stored(uint64_t bytes);

private:
  void end(bool stored, uint64_t bytes);


  std::shared_ptr<upload_meter> meter_;
  std::string bucket_;
  std::string key_;
  uint32_t part_ = 0;
};

} // namespace vf::adapters::common
