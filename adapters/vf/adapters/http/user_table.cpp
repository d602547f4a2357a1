// vf/adapters/http/user_table.cpp

#include "vf/adapters/http/user_table.hpp"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include "vf/adapters/common/hex.hpp"
#include "vf/adapters/http/password_hash.hpp"
#include "vf/messages/errc.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace vf::adapters::http {

namespace {

using messages::errc;
using messages::make_error;
using json = nlohmann::json;

// A users file is a few hundred bytes per account; anything near this is
// not ours.
constexpr off_t max_file_size = 16 << 20;

std::string errno_text(int err) {
  return std::strerror(err);
}

caf::error invalid(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_argument,
                    "users file " + path + ": " + what);
}

bool is_hex(std::string_view s) {
  return !s.empty() && s.size() <= 64
         && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

std::string new_user_epoch() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("OpenSSL: RAND_bytes failed");
  return common::to_hex(bytes, sizeof(bytes));
}

caf::error check_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return make_error(errc::invalid_argument,
                      "a user name must be 1 to 64 characters long");
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@')
      return make_error(errc::invalid_argument,
                        "a user name may only contain letters, digits, '.', "
                        "'_', '-' and '@'");
  return caf::none;
}

caf::expected<std::vector<user_account>>
read_users_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    auto err = errno;
    if (err == ENOENT)
      return make_error(errc::not_found, "users file " + path
                                           + " does not exist");
    return invalid(path, "cannot open: " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
      || st.st_size > max_file_size) {
    ::close(fd);
    return invalid(path, "not a regular file of at most 16 MiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    auto n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return parse_users_text(text, path);
}

caf::expected<std::vector<user_account>>
parse_users_text(std::string_view text, const std::string& path) {
  if (text.size() > static_cast<size_t>(max_file_size))
    return invalid(path, "larger than 16 MiB");
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return invalid(path, "not a JSON object");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer()
      || version->get<int64_t>() != 1)
    return invalid(path, "unsupported version (expected 1)");
  auto users = doc.find("users");
  if (users == doc.end() || !users->is_array())
    return invalid(path, "no users array");
  std::vector<user_account> result;
  std::set<std::string> names;
  for (auto& u : *users) {
    auto str = [&](const char* key) -> const std::string* {
      auto i = u.is_object() ? u.find(key) : u.end();
      if (!u.is_object() || i == u.end() || !i->is_string())
        return nullptr;
      return &i->get_ref<const std::string&>();
    };
    auto name = str("name");
    auto role = str("role");
    auto hash = str("password_hash");
    auto epoch = str("epoch");
    if (!name || !role || !hash || !epoch)
      return invalid(path, "every user needs string fields name, role, "
                           "password_hash and epoch");
    if (check_user_name(*name))
      return invalid(path, "user name '" + name->substr(0, 64)
                             + "' is not a valid login name");
    if (*role != "user" && *role != "admin")
      return invalid(path, "user '" + *name + "' has role '"
                             + role->substr(0, 32) + "'; use user or admin");
    if (!is_password_hash(*hash))
      return invalid(path, "user '" + *name
                             + "' has a password_hash that is not a "
                               "supported scrypt hash");
    if (!is_hex(*epoch))
      return invalid(path, "user '" + *name + "' has an invalid epoch");
    if (!names.insert(*name).second)
      return invalid(path, "user '" + *name + "' appears twice");
    result.push_back(user_account{*name, *role, *hash, *epoch});
  }
  return result;
}

std::string users_text(const std::vector<user_account>& users) {
  json list = json::array();
  for (auto& u : users)
    list.push_back({{"name", u.name},
                    {"role", u.role},
                    {"password_hash", u.password_hash},
                    {"epoch", u.epoch}});
  auto text = json{{"version", 1}, {"users", std::move(list)}}.dump(2);
  text += '\n';
  return text;
}

caf::error write_users_file(const std::string& path,
                            const std::vector<user_account>& users) {
  auto text = users_text(users);
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& what) {
    auto err = errno;
    ::unlink(tmp.c_str());
    return make_error(errc::storage_unavailable,
                      "cannot " + what + " " + tmp + ": " + errno_text(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  S_IRUSR | S_IWUSR);
  if (fd < 0)
    return fail("create");
  // O_CREAT's mode does not apply to a file that already existed.
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
    ::close(fd);
    return fail("chmod");
  }
  // Keep the owner of the file we replace (root editing the service user's
  // file must not lock the service out); fails harmlessly for non-root.
  if (struct stat old {}; ::stat(path.c_str(), &old) == 0
                          && (old.st_uid != ::geteuid()
                              || old.st_gid != ::getegid())) {
    if (::fchown(fd, old.st_uid, old.st_gid) != 0) {
      // Not root: the new file is ours, as a plain write would leave it.
    }
  }
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  if (::close(fd) != 0)
    return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail("rename over " + path + ":");
  // The rename is durable only once the directory is.
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return caf::none;
}

// -- user_table ---------------------------------------------------------------

bool user_table::file_id::operator==(const file_id& other) const {
  return dev == other.dev && ino == other.ino && size == other.size
         && mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns;
}

user_table::user_table(std::vector<user_account> users)
  : users_(std::make_shared<const std::vector<user_account>>(
    std::move(users))) {
  // nop
}

user_table::user_table(std::string path, log_fn log)
  : path_(std::move(path)), log_(std::move(log)),
    users_(std::make_shared<const std::vector<user_account>>()) {
  refresh(0);
}

void user_table::refresh(int64_t now) const {
  // Called with mtx_ held.
  if (path_.empty() || now == checked_at_)
    return;
  checked_at_ = now;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (!seen_missing_) {
      seen_missing_ = true;
      seen_.reset();
      users_ = std::make_shared<const std::vector<user_account>>();
      if (log_)
        log_(true, "users file " + path_ + " is gone: nobody can log in or use "
             "a token until it is back (vidflow users add)");
    }
    return;
  }
  file_id id{static_cast<uint64_t>(st.st_dev),
             static_cast<uint64_t>(st.st_ino),
             static_cast<int64_t>(st.st_size),
             int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
             int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec};
  if (seen_ && *seen_ == id)
    return;
  seen_ = id;
  seen_missing_ = false;
  auto users = read_users_file(path_);
  if (!users) {
    users_ = std::make_shared<const std::vector<user_account>>();
    if (log_)
      log_(true, messages::message_of(users.error())
           + "; nobody can log in or use a token until it is fixed");
    return;
  }
  auto n = users->size();
  users_ = std::make_shared<const std::vector<user_account>>(
    std::move(*users));
  if (log_)
    log_(false, "users file " + path_ + " loaded: " + std::to_string(n)
         + " accounts");
}

std::optional<user_account> user_table::find(std::string_view name,
                                             int64_t now) const {
  std::shared_ptr<const std::vector<user_account>> users;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    refresh(now);
    users = users_;
  }
  for (auto& u : *users)
    if (u.name == name)
      return u;
  return std::nullopt;
}

std::string user_table::sample_hash(int64_t now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  refresh(now);
  return users_->empty() ? std::string{} : users_->front().password_hash;
}

size_t user_table::size(int64_t now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  refresh(now);
  return users_->size();
}

} // namespace vf::adapters::http
