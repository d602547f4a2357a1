// vf/adapters/common/lease_journal.cpp

#include "vf/adapters/common/lease_journal.hpp"

#include "vf/messages/errc.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace vf::adapters::common {

namespace {

/// A file larger than this is not ours (or is damaged): it is read no
/// further, which at worst retries an attempt once more.
constexpr size_t max_read = size_t{64} << 20;

/// `tag` is `b` for a lease this run began, `c` for one carried over from
/// the previous run (kept through one more restart, then dropped).
std::string line_of(char tag, const lease_journal::attempt_key& k) {
  std::string s;
  s += tag;
  s += '\t';
  s += std::get<0>(k);
  s += '\t';
  s += std::to_string(std::get<1>(k));
  s += '\t';
  s += std::get<2>(k);
  s += '\t';
  s += std::to_string(std::get<3>(k));
  s += '\n';
  return s;
}

bool parse_u32(std::string_view s, uint32_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}

/// Parses one line (without its newline); false if it is not well formed
/// (a torn last line after a crash, say).
bool parse_line(std::string_view line, char& tag,
                lease_journal::attempt_key& k) {
  std::vector<std::string_view> f;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i)
    if (i == line.size() || line[i] == '\t') {
      f.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  if (f.size() != 5 || f[0].size() != 1 || (f[0][0] != 'b' && f[0][0] != 'c')
      || f[1].empty() || f[3].empty())
    return false;
  tag = f[0][0];
  uint32_t series = 0;
  uint32_t attempt = 0;
  if (!parse_u32(f[2], series) || !parse_u32(f[4], attempt))
    return false;
  k = lease_journal::attempt_key{std::string{f[1]}, series,
                                 std::string{f[3]}, attempt};
  return true;
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    auto n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

caf::error io_error(const std::string& what, const std::string& path) {
  return messages::make_error(messages::errc::invalid_argument,
                              "cannot " + what + " the lease journal " + path
                                + ": " + std::strerror(errno));
}

/// Writes `content` to `path` atomically (temp file, rename) and opens it
/// for appending; returns the descriptor or -1 (errno set).
int replace_and_open(const std::string& path, const std::string& content) {
  auto tmp = path + ".tmp";
  auto fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600);
  if (fd < 0)
    return -1;
  auto ok = write_all(fd, content);
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return -1;
  }
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
}

} // namespace

caf::expected<std::shared_ptr<lease_journal>>
lease_journal::open(const std::string& path, size_t compact_bytes) {
  std::set<attempt_key> previous;
  std::string carried;
  auto in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0 && errno != ENOENT)
    return io_error("read", path);
  if (in >= 0) {
    std::string text;
    char buf[65536];
    for (;;) {
      auto n = ::read(in, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || text.size() >= max_read)
        break;
      text.append(buf, static_cast<size_t>(n));
    }
    ::close(in);
    size_t start = 0;
    while (start < text.size()) {
      auto nl = text.find('\n', start);
      if (nl == std::string::npos)
        break; // Torn last line: its write never finished.
      char tag = 0;
      attempt_key k;
      if (parse_line(std::string_view{text}.substr(start, nl - start), tag, k)
          && previous.insert(k).second && tag == 'b')
        carried += line_of('c', k);
      start = nl + 1;
    }
  }
  // The previous run's own lines are carried once, so a crash before the
  // restarted attempts are persisted again does not forget them.
  auto fd = replace_and_open(path, carried);
  if (fd < 0)
    return io_error("write", path);
  return std::shared_ptr<lease_journal>{
    new lease_journal(path, fd, std::move(previous), compact_bytes)};
}

lease_journal::lease_journal(std::string path, int fd,
                             std::set<attempt_key> previous,
                             size_t compact_bytes)
  : path_(std::move(path)),
    fd_(fd),
    previous_(std::move(previous)),
    compact_bytes_(compact_bytes) {
  for (auto& k : previous_)
    written_ += line_of('c', k).size();
}

lease_journal::~lease_journal() {
  if (fd_ >= 0)
    ::close(fd_);
}

namespace {

lease_journal::attempt_key key_of(const messages::task& t) {
  return {t.job_id, t.series, to_string(t.kind), t.attempt};
}

} // namespace

void lease_journal::began(const messages::task& t) {
  auto k = key_of(t);
  auto line = line_of('b', k);
  std::lock_guard<std::mutex> lock{mtx_};
  ++open_[k];
  if (fd_ < 0 || !write_all(fd_, line))
    return; // Not recorded: the attempt may be retried once more.
  written_ += line.size();
  if (written_ > compact_bytes_)
    compact();
}

void lease_journal::ended(const messages::task& t) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto i = open_.find(key_of(t));
  if (i != open_.end() && --i->second == 0)
    open_.erase(i);
}

bool lease_journal::began_before(const std::string& job_id, uint32_t series,
                                 messages::task_kind kind,
                                 uint32_t attempt) const {
  return previous_.count(attempt_key{job_id, series, to_string(kind), attempt})
         > 0;
}

void lease_journal::compact() {
  std::string content;
  for (auto& [k, n] : open_)
    content += line_of('b', k);
  auto fd = replace_and_open(path_, content);
  if (fd < 0)
    return; // Keep appending to the old file; compaction retries later.
  ::close(fd_);
  fd_ = fd;
  written_ = content.size();
  if (written_ > compact_bytes_ / 2)
    compact_bytes_ = written_ * 2; // Many open leases: compact less often.
}

} // namespace vf::adapters::common
