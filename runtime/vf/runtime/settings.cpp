// vf/runtime/settings.cpp

#include "vf/runtime/settings.hpp"

#include "vf/messages/errc.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vf::runtime {

using messages::errc;
using messages::make_error;

namespace {

std::string trim(const std::string& x) {
  auto b = x.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = x.find_last_not_of(" \t\r");
  return x.substr(b, e - b + 1);
}

const setting_spec* by_key(const std::vector<setting_spec>& specs,
                           const std::string& key) {
  for (auto& s : specs)
    if (s.key == key)
      return &s;
  return nullptr;
}

const setting_spec* by_flag(const std::vector<setting_spec>& specs,
                            const std::string& flag) {
  for (auto& s : specs)
    if (s.flag == flag)
      return &s;
  return nullptr;
}

} // namespace

std::string env_name(const std::string& key) {
  std::string result = "VIDFLOW_";
  for (char c : key)
    result += (c == '.' || c == '-')
                ? '_'
                : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return result;
}

caf::expected<settings>
settings::load(const std::vector<setting_spec>& specs,
               const std::vector<std::string>& args) {
  settings result;
  for (auto& s : specs) {
    result.values_[s.key] = s.default_value;
    result.origins_[s.key] = "default";
  }
  // Flags first into a list, so the config file named by --config can be
  // applied before them.
  std::string config_file;
  if (auto env = std::getenv("VIDFLOW_CONFIG"))
    config_file = env;
  std::vector<std::pair<const setting_spec*, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (arg == "--config") {
      if (!has_value && i + 1 < args.size()) {
        value = args[++i];
        has_value = true;
      }
      if (!has_value || value.empty())
        return make_error(errc::invalid_argument,
                          "--config needs a file path");
      config_file = value;
      continue;
    }
    auto spec = by_flag(specs, arg);
    if (spec == nullptr)
      return make_error(errc::invalid_argument,
                        "unknown option '" + arg + "' (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size())
        return make_error(errc::invalid_argument,
                          "option " + arg + " needs a value");
      value = args[++i];
    }
    flags.emplace_back(spec, value);
  }
  if (!config_file.empty()) {
    std::ifstream in{config_file};
    if (!in)
      return make_error(errc::invalid_argument,
                        "cannot read config file '" + config_file + "'");
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      auto text = trim(line);
      if (text.empty() || text[0] == '#' || text[0] == ';')
        continue;
      auto eq = text.find('=');
      auto where = config_file + ":" + std::to_string(line_no);
      if (eq == std::string::npos)
        return make_error(errc::invalid_argument,
                          where + ": expected 'key = value', got '" + text
                            + "'");
      auto key = trim(text.substr(0, eq));
      auto value = trim(text.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      if (by_key(specs, key) == nullptr)
        return make_error(errc::invalid_argument,
                          where + ": unknown setting '" + key + "'");
      result.values_[key] = value;
      result.origins_[key] = config_file;
    }
  }
  for (auto& s : specs) {
    if (auto env = std::getenv(env_name(s.key).c_str())) {
      result.values_[s.key] = env;
      result.origins_[s.key] = "env " + env_name(s.key);
    }
  }
  for (auto& [spec, value] : flags) {
    result.values_[spec->key] = value;
    result.origins_[spec->key] = "flag " + spec->flag;
  }
  return result;
}

const std::string& settings::str(const std::string& key) const {
  return values_.at(key);
}

const std::string& settings::origin(const std::string& key) const {
  return origins_.at(key);
}

caf::expected<uint64_t> settings::uint(const std::string& key, uint64_t lo,
                                       uint64_t hi) const {
  auto& text = str(key);
  auto fail = [&] {
    return make_error(errc::invalid_argument,
                      "setting " + key + " (" + origin(key) + ") must be a "
                        + "whole number from " + std::to_string(lo) + " to "
                        + std::to_string(hi) + ", got '" + text + "'");
  };
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos
      || text.size() > 19)
    return fail();
  auto x = std::stoull(text);
  if (x < lo || x > hi)
    return fail();
  return x;
}

caf::expected<uint64_t> settings::bytes(const std::string& key) const {
  auto& text = str(key);
  size_t pos = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])))
    ++pos;
  auto unit = trim(text.substr(pos));
  static const std::pair<const char*, uint64_t> units[] = {
    {"", 1},         {"B", 1},           {"KB", 1000},
    {"KiB", 1024},   {"MB", 1000000},    {"MiB", 1 << 20},
    {"GB", 1000000000}, {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
  };
  if (pos > 0 && pos <= 15) {
    for (auto& [name, factor] : units)
      if (unit == name)
        return std::stoull(text.substr(0, pos)) * factor;
  }
  return make_error(errc::invalid_argument,
                    "setting " + key + " (" + origin(key)
                      + ") must be a size such as 1048576, 64KiB or 5GiB, got '"
                      + text + "'");
}

std::string settings::dump(const std::vector<setting_spec>& specs) const {
  std::ostringstream out;
  for (auto& s : specs) {
    auto& v = str(s.key);
    out << s.key << " = " << (s.secret && !v.empty() ? "<hidden>" : v)
        << "  # " << origin(s.key) << '\n';
  }
  return out.str();
}

std::string usage(const std::vector<setting_spec>& specs) {
  std::ostringstream out;
  out << "  --config FILE                 read settings from FILE "
         "(key = value lines); env VIDFLOW_CONFIG\n";
  for (auto& s : specs) {
    std::string left = "  " + s.flag + " VALUE";
    if (left.size() < 32)
      left.resize(32, ' ');
    else
      left += ' ';
    out << left << s.help << '\n'
        << std::string(32, ' ') << "key " << s.key << ", env "
        << env_name(s.key)
        << (s.default_value.empty() || s.secret
              ? std::string{}
              : ", default " + s.default_value)
        << '\n';
  }
  return out.str();
}

} // namespace vf::runtime
