// vf/adapters/media/composition.hpp
//
// A composition as a job stores it (`job::outputs`, made by `POST
// /compositions`) and as a compose task reads it:
//
//   {"composition": {
//     "title": "...", "description": "...",
//     "sources": [{"id", "bucket", "key", "version", "size"}],
//     "clips": [{"source": 0, "start": 0.0, "end": 4.5}],
//     "audio": {"music": 1 | null, "voiceover": 2 | null,
//               "music_volume": 0.5, "voiceover_volume": 1.0,
//               "original_volume": 1.0},
//     "overlays": [{"text", "position", "start", "end" | null, "font_size",
//                   "font_color"}],
//     "output": {"resolution", "width", "height", "format", "fps",
//                "bitrate" | null}}}
//
// Clips and audio name their upload by index into `sources`; the API put
// there only uploads of the composition's owner.

#pragma once

#include "vf/adapters/media/compose.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::adapters::media {

/// The uploads `recipe` cuts from, in index order (bucket, key, version,
/// size); empty for anything that is not a composition recipe.
std::vector<messages::object_ref>
composition_sources(const std::string& recipe);

/// Where the composition of job `job_id` is stored:
/// `outputs/<job_id>/composition.<mp4|mov>`; empty when `recipe` is not a
/// composition recipe.
std::string composition_output_key(const std::string& job_id,
                                   const std::string& recipe);

/// Fills `req` from `recipe` with the local files of its sources
/// (`paths[i]` for `sources[i]`), leaving output path, font, threads,
/// timeout, cancel and progress alone. Returns what is wrong, or empty; the
/// rules of `check_compose_request` are checked too (a worker on another
/// node must not trust that the API did).
std::string parse_composition(const std::string& recipe,
                              const std::vector<std::string>& paths,
                              compose_request& req);

/// Output width and height the recipe asks for (0, 0 if none).
std::pair<int, int> composition_size(const std::string& recipe);

/// A TrueType font for overlays, looked for at run time: DejaVu Sans
/// (`fonts-dejavu-core`) where Debian puts it, else any `.ttf` under
/// `/usr/share/fonts`; empty if there is none.
std::string find_overlay_font();

/// Checks a compose task's output (the media actor's answer) for job
/// `job_id`: one `composition` entry stored in `bucket` as
/// `composition_output_key`, with only known fields. Returns why it is
/// refused, or empty.
std::string check_composition_output(const std::string& job_id,
                                     const std::string& bucket,
                                     const std::string& recipe,
                                     const std::string& output);

} // namespace vf::adapters::media
