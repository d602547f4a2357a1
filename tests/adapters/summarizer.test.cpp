// tests/adapters/summarizer.test.cpp
//
// The mock summarizer: fixed sentences from ffprobe-shaped metadata, graceful
// with missing or odd fields, and its actor's replies.

#define CAF_SUITE adapters.summarizer

#include "vf/adapters/summarizer/mock_summarizer.hpp"
#include "vf_test.hpp"
#include <nlohmann/json.hpp>

#include <string>

using nlohmann::json;
using vf::adapters::summarizer::mock_summary;
using vf::messages::errc;

namespace {

// Shaped like `ffprobe -print_format json` output, numbers as strings.
const char* clip_metadata = R"({
  "streams": [
    {"index": 0, "codec_name": "h264", "profile": "High",
     "codec_type": "video", "width": 1280, "height": 720,
     "pix_fmt": "yuv420p", "r_frame_rate": "30/1", "avg_frame_rate": "30/1",
     "duration": "10.000000", "bit_rate": "1100000"},
    {"index": 1, "codec_name": "aac", "profile": "LC", "codec_type": "audio",
     "sample_rate": "48000", "channels": 2, "r_frame_rate": "0/0",
     "avg_frame_rate": "0/0", "duration": "10.000000", "bit_rate": "128000"}
  ],
  "format": {"filename": "/tmp/x.mp4", "nb_streams": 2,
             "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
             "duration": "10.000000", "size": "1543210",
             "bit_rate": "1234568"}
})";

struct fixture : vf::testing::fixture_base {
  vf::messages::summarizer_actor summarizer
    = vf::adapters::summarizer::spawn_mock_summarizer(sys);

  /// Sends `(summarize, filename, metadata)` and returns the reply.
  caf::expected<std::string> summarize(const std::string& filename,
                                       const std::string& metadata) {
    caf::expected<std::string> result{std::string{}};
    auto hdl = self->request(summarizer, caf::infinite, vf::atoms::summarize_v,
                             filename, metadata);
    run();
    hdl.receive([&](const std::string& text) { result = text; },
                [&](const caf::error& err) { result = err; });
    return result;
  }
};

} // namespace

CAF_TEST(video with audio) {
  CAF_CHECK_EQUAL(mock_summary("clip.mp4", json::parse(clip_metadata)),
                  "clip.mp4: a 10.0 s MP4 (mov,mp4,m4a,3gp,3g2,mj2) video, "
                  "1280x720 H.264 at 30 fps with AAC stereo audio at 48 kHz; "
                  "1.2 Mb/s.");
}

CAF_TEST(audio only) {
  auto doc = json::parse(R"({
    "streams": [{"index": 0, "codec_name": "mp3", "codec_type": "audio",
                 "sample_rate": "44100", "channels": 1}],
    "format": {"format_name": "mp3", "duration": "3.456000",
               "bit_rate": "128000", "tags": {"title": "Jingle"}}})");
  CAF_CHECK_EQUAL(mock_summary("song.mp3", doc),
                  "song.mp3 (\"Jingle\"): a 3.5 s MP3 (mp3) audio file, "
                  "MP3 mono at 44.1 kHz; 128 kb/s.");
  doc["format"].erase("duration");
  CAF_CHECK_EQUAL(mock_summary("song.mp3", doc),
                  "song.mp3 (\"Jingle\"): an MP3 (mp3) audio file, "
                  "MP3 mono at 44.1 kHz; 128 kb/s.");
}

CAF_TEST(ntsc rates matroska title and silent video) {
  auto doc = json::parse(R"({
    "streams": [{"codec_name": "vp9", "codec_type": "video", "width": 640,
                 "height": 360, "avg_frame_rate": "30000/1001"},
                {"codec_name": "subrip", "codec_type": "subtitle"}],
    "format": {"format_name": "matroska,webm", "duration": "8.2",
               "tags": {"TITLE": "Demo"}}})");
  CAF_CHECK_EQUAL(mock_summary("demo.webm", doc),
                  "demo.webm (\"Demo\"): an 8.2 s WebM (matroska,webm) video, "
                  "640x360 VP9 at 29.97 fps, no audio (+1 more stream).");
}

CAF_TEST(missing and mistyped fields) {
  CAF_CHECK_EQUAL(mock_summary("x.bin", json::object()),
                  "x.bin: a media file.");
  CAF_CHECK_EQUAL(mock_summary("", json::array()), "(unnamed): a media file.");
  auto odd = json::parse(R"({"streams": [1, null, {"codec_type": "video",
    "width": "wide", "avg_frame_rate": "0/0", "r_frame_rate": "x/y"}],
    "format": {"duration": -1, "bit_rate": {}, "format_name": 7,
               "tags": []}})");
  CAF_CHECK_EQUAL(mock_summary("odd.mp4", odd), "odd.mp4: a video, no audio.");
}

CAF_TEST_FIXTURE_SCOPE(summarizer_actor_tests, fixture)

CAF_TEST(actor replies with the summary) {
  auto res = summarize("clip.mp4", clip_metadata);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(*res, mock_summary("clip.mp4", json::parse(clip_metadata)));
}

CAF_TEST(the same input always gives the same summary) {
  // Results are compared across retries and redeliveries: the summary of
  // one input must not depend on earlier calls (no counter, clock or
  // randomness), including the calls for other inputs in between.
  const std::string expected
    = "clip.mp4: a 10.0 s MP4 (mov,mp4,m4a,3gp,3g2,mj2) video, 1280x720 "
      "H.264 at 30 fps with AAC stereo audio at 48 kHz; 1.2 Mb/s.";
  for (int i = 0; i < 20; ++i) {
    auto res = summarize("clip.mp4", clip_metadata);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(*res, expected);
    auto other = summarize("other.mp4", R"({"format": {"duration": "1"}})");
    CAF_REQUIRE(other);
    CAF_CHECK_NOT_EQUAL(*other, expected);
  }
}

CAF_TEST(actor rejects metadata that is not a json object) {
  for (auto* bad : {"not json", "{\"format\": ", "[1, 2]", ""}) {
    auto res = summarize("clip.mp4", bad);
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(vf::messages::errc_of(res.error()), errc::invalid_argument);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
