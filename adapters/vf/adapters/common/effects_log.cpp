// vf/adapters/common/effects_log.cpp

#include "vf/adapters/common/effects_log.hpp"

#include "vf/messages/errc.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace vf::adapters::common {

namespace {

int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// What every line carries: which step of which upload, and who wrote it.
nlohmann::json line_of(const char* event, const std::string& job_id,
                       messages::task_kind kind, uint64_t lease_id,
                       const std::string& object_version, uint32_t series) {
  return {{"e", event},
          {"job", job_id},
          {"kind", to_string(kind)},
          {"lease", lease_id},
          {"version", object_version},
          {"series", series},
          {"pid", static_cast<int64_t>(::getpid())},
          {"at", unix_ms()}};
}

} // namespace

caf::expected<std::shared_ptr<effects_log>>
effects_log::open(const std::string& path) {
  auto fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0600);
  if (fd < 0)
    return messages::make_error(messages::errc::invalid_argument,
                                "cannot open the effects log " + path + ": "
                                  + std::strerror(errno));
  return std::shared_ptr<effects_log>{new effects_log(fd)};
}

effects_log::~effects_log() {
  ::close(fd_);
}

void effects_log::exec(const messages::task_outcome& out) {
  auto j = line_of("exec", out.job_id, out.kind, out.lease_id,
                   out.object_version, out.series);
  j["ok"] = out.ok;
  j["code"] = out.ok ? std::string{} : to_string(out.error_code);
  j["worker"] = out.worker;
  append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void effects_log::record(const messages::attempt_record& rec) {
  auto j = line_of("record", rec.job_id, rec.kind, rec.lease_id,
                   rec.object_version, rec.series);
  j["worker"] = rec.worker;
  append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void effects_log::append(std::string line) {
  line += '\n';
  // One write: O_APPEND places it whole at the end. A short write or an
  // error loses the line, which the tests then report as missing.
  for (;;) {
    auto n = ::write(fd_, line.data(), line.size());
    if (n >= 0 || errno != EINTR)
      return;
  }
}

} // namespace vf::adapters::common
