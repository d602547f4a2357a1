// vf/adapters/objectstore/multipart.hpp
//
// S3 multipart uploads in the built-in store, on disk: each upload in
// progress is a folder `<data>/objects/.multipart/<upload_id>/` with its
// `upload` record (bucket, key, content type) and one file per part
// (`<n>`, committed like an object: fsync, atomic rename, folder fsync)
// with its metadata (`<n>.meta`: ETag, size). CompleteMultipartUpload
// joins the parts into one object that is committed and announced like a
// single PUT. Pure file and text functions here; the session does the I/O.

#pragma once

#include "vf/adapters/objectstore/s3_error.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vf::adapters::objectstore {

/// S3's limits: parts 1..10000, each 5 MiB to 5 GiB but the last, which
/// may be smaller.
constexpr uint32_t max_part_number = 10000;
constexpr uint64_t min_part_bytes = uint64_t{5} << 20;
constexpr uint64_t max_part_bytes = uint64_t{5} << 30;

/// Folder of the uploads in progress: `<data_dir>/objects/.multipart`.
std::string multipart_dir(const std::string& data_dir);

/// Whether `id` is an upload id this store could have made: 32 lower-case
/// hex digits (so it is always a plain folder name).
bool is_valid_upload_id(std::string_view id);

/// A fresh upload id: 128 bits from the OS CSPRNG, in hex (it works as a
/// capability next to the signature, so it must not be guessable).
std::string new_upload_id();

/// What an upload in progress is for.
struct multipart_upload {
  std::string bucket;
  std::string key;
  std::string content_type;
  /// Unix ms when it was started.
  int64_t created_ms = 0;
};

/// One stored part.
struct part_info {
  uint32_t number = 0;
  /// Lower-case hex MD5 of its bytes, without quotes.
  std::string etag;
  uint64_t size = 0;
  /// Unix ms of its last upload.
  int64_t modified_ms = 0;
};

/// Starts upload `id`: its folder and record, durable before it returns.
[[nodiscard]] std::optional<fs_error>
create_upload(const std::string& data_dir, const std::string& id,
              const multipart_upload& up);

/// The record of upload `id`; nullopt if there is no such upload.
std::optional<multipart_upload> read_upload(const std::string& data_dir,
                                            const std::string& id);

/// Where part `n` of upload `id` lives, and its metadata.
std::string part_file(const std::string& data_dir, const std::string& id,
                      uint32_t n);
std::string part_meta_file(const std::string& data_dir, const std::string& id,
                           uint32_t n);

/// The parts of upload `id` stored so far, by number.
std::vector<part_info> list_parts(const std::string& data_dir,
                                  const std::string& id);

/// Removes upload `id` and its parts (idempotent).
void remove_upload(const std::string& data_dir, const std::string& id);

/// Removes the uploads started before `before_ms` (Unix ms) and answers
/// how many (`store.multipart_expiry`).
size_t expire_uploads(const std::string& data_dir, int64_t before_ms);

/// Parses a CompleteMultipartUpload body: the parts as (number, ETag
/// without quotes). Returns `MalformedXML` if it is not that document.
std::optional<s3_error>
parse_complete_body(std::string_view xml,
                    std::vector<std::pair<uint32_t, std::string>>& parts);

/// Checks the parts a CompleteMultipartUpload names against those stored:
/// at least one, ascending (`InvalidPartOrder`), each stored with that
/// ETag (`InvalidPart`), each but the last at least `min_part` bytes
/// (`EntityTooSmall`). On success fills `chosen` with the stored parts in
/// order.
std::optional<s3_error>
check_complete(const std::vector<std::pair<uint32_t, std::string>>& asked,
               const std::vector<part_info>& stored, uint64_t min_part,
               std::vector<part_info>& chosen);

/// S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, a
/// dash and the number of parts (without quotes).
std::string multipart_etag(const std::vector<part_info>& parts);

/// The XML answers.
std::string initiate_xml(const std::string& bucket, const std::string& key,
                         const std::string& id);
std::string list_parts_xml(const std::string& bucket, const std::string& key,
                           const std::string& id,
                           const std::vector<part_info>& parts,
                           uint32_t marker, uint32_t max_parts);
std::string complete_xml(const std::string& location,
                         const std::string& bucket, const std::string& key,
                         const std::string& etag);

} // namespace vf::adapters::objectstore
