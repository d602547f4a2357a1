// vf/messages/upload_key.cpp

#include "vf/messages/upload_key.hpp"

namespace vf::messages {

namespace {

/// True if `x` can stand as one path segment of a key.
bool is_segment(const std::string& x) {
  return !x.empty() && x != "." && x != ".."
         && x.find('/') == std::string::npos;
}

} // namespace

std::optional<std::string> make_upload_key(const std::string& prefix,
                                           const std::string& job_id,
                                           const std::string& filename) {
  if (prefix.empty() || prefix.front() == '/' || prefix.back() == '/'
      || !is_segment(job_id) || !is_segment(filename))
    return std::nullopt;
  return prefix + '/' + job_id + '/' + filename;
}

std::optional<std::string> job_id_of(const std::string& key,
                                     const std::string& prefix) {
  if (prefix.empty() || key.size() <= prefix.size() + 1
      || key.compare(0, prefix.size(), prefix) != 0
      || key[prefix.size()] != '/')
    return std::nullopt;
  auto start = prefix.size() + 1;
  auto slash = key.find('/', start);
  if (slash == std::string::npos)
    return std::nullopt;
  auto id = key.substr(start, slash - start);
  if (!is_segment(id) || !is_segment(key.substr(slash + 1)))
    return std::nullopt;
  return id;
}

std::string outputs_prefix(const std::string& job_id) {
  return "outputs/" + job_id + "/";
}

} // namespace vf::messages
