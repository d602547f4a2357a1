// tests/fuzz/media_probe.fuzz.cpp
//
// libFuzzer target: probing uploaded bytes. Workers probe whatever a client
// uploaded, so any file must give JSON or an error (bad_media, truncated,
// ...) within the deadline: no crash, leak, UB or hang. Each input is written
// to one scratch file (in /dev/shm when possible, so no disk I/O), probed
// with a short timeout and deleted at exit. probe_file_as opens it through
// confined_input (its own bytes only, single-file containers only); seeds
// include an HLS playlist and an ffconcat script naming other files. Each
// input is probed twice: as audio/video and as an image asset's picture
// (PNG, JPEG, WebP demuxers only; seeds include a PNG and a JPEG). libav
// itself is not instrumented: sanitizers watch probe.cpp (the MP4 box walk,
// the JSON rendering), confined_input.cpp (the I/O callbacks) and
// everything libav hands back to them.

#include "fuzz_check.hpp"

#include "vf/adapters/media/confined_input.hpp"
#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

namespace vm = vf::adapters::media;
using vf::messages::errc;

std::string scratch_path;

void remove_scratch() {
  if (!scratch_path.empty())
    std::remove(scratch_path.c_str());
}

// Errors probe.hpp documents for an existing, readable regular file.
bool expected_error(errc x) {
  return x == errc::bad_media || x == errc::truncated
         || x == errc::unsupported_codec || x == errc::timeout;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = "/dev/shm";
  if (access(dir.c_str(), W_OK) != 0) {
    auto* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr ? tmp : "/tmp";
  }
  scratch_path = dir + "/vf-fuzz-media-" + std::to_string(getpid()) + ".bin";
  std::atexit(remove_scratch);
  return 0;
}

namespace {

void probe_as(bool still_image) {
  auto res = vm::probe_file_as(scratch_path, "upload \xff.mp4",
                               std::chrono::milliseconds{2000}, nullptr,
                               still_image);
  if (!res) {
    auto code = vf::messages::errc_of(res.error());
    if (!expected_error(code))
      std::fprintf(stderr, "probe error: %s\n",
                   vf::messages::message_of(res.error()).c_str());
    VF_FUZZ_CHECK(expected_error(code));
    return;
  }
  // Promised: ffprobe-shaped JSON, valid UTF-8 (the parser checks).
  auto doc = nlohmann::json::parse(*res, nullptr, false);
  VF_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
  VF_FUZZ_CHECK(doc.contains("format") && doc["format"].is_object());
  VF_FUZZ_CHECK(doc.contains("streams") && doc["streams"].is_array()
                && !doc["streams"].empty());
  // Promised: only single-file containers are ever read (confined_input);
  // a playlist or concat script never comes back as metadata.
  VF_FUZZ_CHECK(doc["format"].contains("format_name")
                && doc["format"]["format_name"].is_string());
  auto name = doc["format"]["format_name"].get<std::string>();
  if (!still_image) {
    VF_FUZZ_CHECK(vm::is_confined_format_name(name));
    return;
  }
  // A picture: one of the still-picture demuxers, one stream.
  VF_FUZZ_CHECK(vm::is_allowed_format(av_find_input_format(name.c_str()),
                                      vm::media_kind::still_image));
  VF_FUZZ_CHECK(doc["streams"].size() == 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto* file = std::fopen(scratch_path.c_str(), "wb");
  VF_FUZZ_CHECK(file != nullptr);
  VF_FUZZ_CHECK(std::fwrite(data, 1, size, file) == size);
  VF_FUZZ_CHECK(std::fclose(file) == 0);
  probe_as(false);
  probe_as(true);
  return 0;
}
