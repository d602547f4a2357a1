// vf/adapters/summarizer/mock_summarizer.hpp
//
// The summarizer used by default and in tests: like the reference design's
// mock Bedrock client, it writes a fixed-form sentence from the metadata, so
// results are deterministic and cost nothing.

#pragma once

#include "vf/messages/summarizer_actor.hpp"
#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"

#include <string>

namespace vf::adapters::summarizer {

/// Returns a one-sentence description of a clip from its ffprobe-shaped
/// metadata (`format` and `streams`), e.g. `clip.mp4: a 10.0 s MP4
/// (mov,mp4,m4a,3gp,3g2,mj2) video, 1280x720 H.264 at 30 fps with AAC stereo
/// audio at 48 kHz; 1.2 Mb/s.` Missing or oddly typed fields are left out of
/// the sentence; never throws on any JSON value. Same input, same output.
std::string mock_summary(const std::string& filename,
                         const nlohmann::json& metadata);

/// Spawns an event-based actor implementing `vf::messages::summarizer_actor`
/// with `mock_summary` (pure CPU, microseconds: fine on the cooperative
/// scheduler). `(summarize, filename, metadata_json)` answers the summary or
/// `errc::invalid_argument` when the metadata is not a JSON object.
vf::messages::summarizer_actor spawn_mock_summarizer(caf::actor_system& sys);

} // namespace vf::adapters::summarizer
