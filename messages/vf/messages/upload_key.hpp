// vf/messages/upload_key.hpp

#pragma once

#include <optional>
#include <string>

namespace vf::messages {

/// Returns the object key of a job's upload, `<prefix>/<job_id>/<filename>`,
/// or nullopt if a part would not survive `job_id_of`: `job_id` or
/// `filename` empty, containing '/', or '.' or '..'; `prefix` empty or
/// starting or ending with '/'. The one place the key is built.
[[nodiscard]] std::optional<std::string>
make_upload_key(const std::string& prefix, const std::string& job_id,
                const std::string& filename);

/// Parses `<prefix>/<job_id>/<filename>` and returns the job id, or nullopt
/// for any other key: another prefix, an empty part, a part that is '.' or
/// '..', or more slashes. The one place the key is parsed; for every valid
/// part, `job_id_of(*make_upload_key(p, id, f), p) == id`.
[[nodiscard]] std::optional<std::string>
job_id_of(const std::string& key, const std::string& prefix);

/// The folder of a job's media outputs, `outputs/<job_id>/` (in the bucket
/// of its upload); an output's key is this plus `<name>.<jpg|mp4>`. The one
/// place the folder is named.
[[nodiscard]] std::string outputs_prefix(const std::string& job_id);

} // namespace vf::messages
