// vf/runtime/users.cpp

#include "vf/runtime/users.hpp"

#include "vf/adapters/http/password_hash.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/command.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace vf::runtime {

namespace http = adapters::http;

namespace {

using messages::errc;

caf::expected<std::vector<http::user_account>>
hash_accounts(const std::vector<account>& xs) {
  std::vector<http::user_account> result;
  for (auto& a : xs) {
    if (auto err = http::check_user_name(a.name))
      return messages::make_error(errc::invalid_argument,
                                  "auth.users: user '" + a.name.substr(0, 64)
                                    + "': " + messages::message_of(err));
    if (std::any_of(result.begin(), result.end(),
                    [&](auto& x) { return x.name == a.name; }))
      return messages::make_error(errc::invalid_argument,
                                  "auth.users: user '" + a.name
                                    + "' appears twice");
    result.push_back({a.name, a.role, http::hash_password(a.password),
                      http::new_user_epoch()});
  }
  return result;
}

void print_users_usage(std::ostream& out) {
  out << "Usage: vidflow users <command> [NAME] [ROLE] [--data-dir DIR | "
         "--config FILE]\n\n"
         "Manages the accounts in <data.dir>/users.json (mode 0600, scrypt\n"
         "password hashes). A running node notices changes within a second:\n"
         "a removed account's tokens stop working at once, and a new\n"
         "password or role revokes the tokens issued before it.\n\n"
         "Commands:\n"
         "  list                 print every account and its role\n"
         "  add NAME [ROLE]      create an account (ROLE: user (default) or "
         "admin)\n"
         "  remove NAME          delete an account\n"
         "  passwd NAME          set a new password\n"
         "  role NAME ROLE       set the role (user or admin)\n\n"
         "Passwords are read from standard input (one line), or prompted\n"
         "for without echo on a terminal; never from the command line.\n"
         "Without a users file, the first change seeds it from auth.users.\n\n"
         "Options:\n"
         "  --data-dir DIR   the node's data directory (data.dir)\n"
         "  --config FILE    read data.dir (and auth.users) from FILE\n"
         "  -h, --help       show this help\n";
}

/// Reads a password: prompted twice without echo on a terminal, else the
/// first line of standard input.
caf::expected<std::string> read_password(const std::string& name) {
  auto fail = [](std::string msg) {
    return messages::make_error(errc::invalid_argument, std::move(msg));
  };
  std::string pw;
  if (::isatty(STDIN_FILENO)) {
    termios old {};
    ::tcgetattr(STDIN_FILENO, &old);
    auto quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string again;
    std::cerr << "New password for '" << name << "': " << std::flush;
    std::getline(std::cin, pw);
    std::cerr << "\nRepeat it: " << std::flush;
    std::getline(std::cin, again);
    std::cerr << "\n";
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (pw != again)
      return fail("the passwords differ");
  } else if (!std::getline(std::cin, pw)) {
    return fail("no password on standard input (send one line)");
  }
  if (!pw.empty() && pw.back() == '\r')
    pw.pop_back();
  if (pw.empty())
    return fail("the password must not be empty");
  if (pw.size() > 1024)
    return fail("the password must be at most 1024 bytes");
  return pw;
}

bool valid_role(const std::string& role) {
  return role == "user" || role == "admin";
}

} // namespace

namespace {

/// Holds `<users file>.lock` exclusively while alive (one writer at a time:
/// `vidflow users` and a first start seeding the file).
class users_lock {
public:
  explicit users_lock(const std::string& path)
    : fd_(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                 0600)) {
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  users_lock(const users_lock&) = delete;
  users_lock& operator=(const users_lock&) = delete;

  ~users_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  explicit operator bool() const {
    return fd_ >= 0;
  }

private:
  int fd_;
};

} // namespace

caf::expected<std::shared_ptr<const http::user_table>>
open_user_table(const node_config& cfg, logger& log) {
  auto path = users_file(cfg.data_dir);
  users_lock lock{path};
  if (!lock)
    return messages::make_error(errc::storage_unavailable,
                                "cannot lock " + path + ".lock: "
                                  + std::strerror(errno));
  auto existing = http::read_users_file(path);
  if (existing) {
    if (!cfg.users.empty())
      log.warn("auth", "auth.users is ignored: the accounts are in " + path
                         + " (manage them with 'vidflow users')");
    if (existing->empty())
      log.warn("auth", path + " holds no account: nobody can log in "
                              "(vidflow users add NAME)");
  } else if (messages::errc_of(existing.error()) == errc::not_found) {
    auto seeded = hash_accounts(cfg.users);
    if (!seeded)
      return seeded.error();
    if (auto err = http::write_users_file(path, *seeded))
      return err;
    log.info("auth", "wrote " + std::to_string(seeded->size())
                       + " accounts from auth.users to " + path
                       + "; from now on manage them with 'vidflow users'");
  } else {
    return existing.error();
  }
  return std::make_shared<const http::user_table>(
    path, [&log](bool trouble, const std::string& line) {
      if (trouble)
        log.error("auth", line);
      else
        log.info("auth", line);
    });
}

int users_command(const std::vector<std::string>& raw) {
  // Positional words (the command, NAME, ROLE) apart from flags: every flag
  // takes a value, as `--flag value` or `--flag=value`.
  std::vector<std::string> words;
  std::vector<std::string> flags;
  bool help = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    auto& a = raw[i];
    if (a == "-h" || a == "--help" || a == "help") {
      help = true;
    } else if (a.rfind("--", 0) == 0) {
      flags.push_back(a);
      if (a.find('=') == std::string::npos && i + 1 < raw.size())
        flags.push_back(raw[++i]);
    } else {
      words.push_back(a);
    }
  }
  if (help) {
    print_users_usage(std::cout);
    return 0;
  }
  auto usage_error = [](const std::string& msg) {
    std::cerr << "vidflow users: " << msg << "\n\n";
    print_users_usage(std::cerr);
    return 2;
  };
  if (words.empty())
    return usage_error("missing command");
  auto cmd = words.front();
  words.erase(words.begin());
  size_t min_args = 0;
  size_t max_args = 0;
  if (cmd == "list") {
    // no arguments
  } else if (cmd == "add") {
    min_args = 1;
    max_args = 2;
  } else if (cmd == "remove" || cmd == "passwd") {
    min_args = max_args = 1;
  } else if (cmd == "role") {
    min_args = max_args = 2;
  } else {
    return usage_error("unknown command '" + cmd + "'");
  }
  if (words.size() < min_args || words.size() > max_args)
    return usage_error("wrong number of arguments for '" + cmd + "'");
  auto xs = settings::load(serve_specs(), flags);
  if (!xs) {
    std::cerr << "vidflow users: " << messages::message_of(xs.error())
              << "\n";
    return 2;
  }
  auto data_dir = xs->str("data.dir");
  auto path = users_file(data_dir);
  auto fail = [](const std::string& msg) {
    std::cerr << "vidflow users: " << msg << "\n";
    return 1;
  };
  std::string name = words.empty() ? std::string{} : words[0];
  if (!name.empty())
    if (auto err = http::check_user_name(name))
      return usage_error(messages::message_of(err));
  std::string role = cmd == "add" ? (words.size() > 1 ? words[1] : "user")
                     : cmd == "role" ? words[1]
                                     : std::string{};
  if (!role.empty() && !valid_role(role))
    return usage_error("role must be user or admin, got '" + role + "'");
  if (cmd == "list") {
    auto users = http::read_users_file(path);
    if (!users) {
      if (messages::errc_of(users.error()) == errc::not_found) {
        std::cerr << "vidflow users: " << path
                  << " does not exist yet ('vidflow serve' or the first "
                     "change writes it from auth.users)\n";
        return 1;
      }
      return fail(messages::message_of(users.error()));
    }
    for (auto& u : *users)
      std::cout << u.name << "\t" << u.role << "\n";
    return 0;
  }
  // Read the password before taking the lock: a prompt may take a while.
  std::string password;
  if (cmd == "add" || cmd == "passwd") {
    auto pw = read_password(name);
    if (!pw)
      return fail(messages::message_of(pw.error()));
    password = std::move(*pw);
  }
  ::umask(077);
  if (!make_dirs(data_dir))
    return fail("setting data.dir: cannot create directory '" + data_dir
                + "'");
  // One writer at a time: read, change and replace under a lock file.
  users_lock lock{path};
  if (!lock)
    return fail("cannot lock " + path + ".lock: " + std::strerror(errno));
  auto users = http::read_users_file(path);
  if (!users && messages::errc_of(users.error()) == errc::not_found) {
    auto seed = parse_accounts(xs->str("auth.users"));
    if (!seed)
      return fail("auth.users: " + messages::message_of(seed.error()));
    users = hash_accounts(*seed);
  }
  if (!users)
    return fail(messages::message_of(users.error()));
  auto i = std::find_if(users->begin(), users->end(),
                        [&](auto& u) { return u.name == name; });
  std::string done;
  if (cmd == "add") {
    if (i != users->end())
      return fail("user '" + name + "' exists already (use passwd or role)");
    users->push_back({name, role, http::hash_password(password),
                      http::new_user_epoch()});
    done = "added " + role + " '" + name + "'";
  } else if (i == users->end()) {
    return fail("no user '" + name + "' in " + path);
  } else if (cmd == "remove") {
    users->erase(i);
    done = "removed '" + name + "': its tokens stop working within a second";
  } else if (cmd == "passwd") {
    i->password_hash = http::hash_password(password);
    // A new epoch revokes every token issued before.
    i->epoch = http::new_user_epoch();
    done = "changed the password of '" + name
           + "': older tokens stop working within a second";
  } else {
    // The role is read from the table on every request anyway; a new
    // epoch also revokes tokens issued before the change (the holder logs
    // in again and sees the new role), as the review asked.
    if (i->role != role)
      i->epoch = http::new_user_epoch();
    i->role = role;
    done = "'" + name + "' is now " + role
           + ": older tokens stop working within a second";
  }
  if (auto err = http::write_users_file(path, *users))
    return fail(messages::message_of(err));
  std::cout << "vidflow users: " << done << "\n";
  return 0;
}

} // namespace vf::runtime
