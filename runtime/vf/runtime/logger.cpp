// vf/runtime/logger.cpp

#include "vf/runtime/logger.hpp"

#include "vf/adapters/http/json_views.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace vf::runtime {

void logger::set_level(log_level x) {
  std::lock_guard<std::mutex> guard{mtx_};
  level_ = x;
}

bool logger::parse(const std::string& str, log_level& x) {
  if (str == "debug")
    x = log_level::debug;
  else if (str == "info")
    x = log_level::info;
  else if (str == "warning" || str == "warn")
    x = log_level::warning;
  else if (str == "error")
    x = log_level::error;
  else
    return false;
  return true;
}

void logger::set_format(log_format x) {
  std::lock_guard<std::mutex> guard{mtx_};
  format_ = x;
}

bool logger::parse(const std::string& str, log_format& x) {
  if (str == "text")
    x = log_format::text;
  else if (str == "json")
    x = log_format::json;
  else
    return false;
  return true;
}

namespace {

// Text lines must stay one line each, whatever a message quotes.
std::string one_line(const std::string& x) {
  std::string result = x;
  for (auto& c : result)
    if (c == '\n' || c == '\r')
      c = ' ';
  return result;
}

} // namespace

std::string logger::format_line(log_format fmt, const std::string& stamp,
                                log_level lvl, const std::string& component,
                                const std::string& text,
                                const log_fields& fields) {
  static const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  static const char* lower[] = {"debug", "info", "warning", "error"};
  std::string out;
  if (fmt == log_format::json) {
    out += R"({"ts":)";
    adapters::http::append_json_string(out, stamp);
    out += R"(,"level":)";
    adapters::http::append_json_string(out, lower[static_cast<int>(lvl)]);
    out += R"(,"component":)";
    adapters::http::append_json_string(out, component);
    out += R"(,"msg":)";
    adapters::http::append_json_string(out, text);
    for (auto& [k, v] : fields) {
      out += ',';
      adapters::http::append_json_string(out, k);
      out += ':';
      adapters::http::append_json_string(out, v);
    }
    out += '}';
    return out;
  }
  char level[8];
  std::snprintf(level, sizeof(level), "%-5s", names[static_cast<int>(lvl)]);
  out += stamp;
  out += ' ';
  out += level;
  out += ' ';
  out += component;
  out += ": ";
  out += one_line(text);
  for (auto& [k, v] : fields) {
    out += ' ';
    out += k;
    out += '=';
    out += one_line(v);
  }
  return out;
}

void logger::log(log_level lvl, const std::string& component,
                 const std::string& text, const log_fields& fields) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof(stamp) - n, ".%03dZ", static_cast<int>(ms));
  std::lock_guard<std::mutex> guard{mtx_};
  if (lvl < level_)
    return;
  auto line = format_line(format_, stamp, lvl, component, text, fields);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::pair<log_level, std::string>
logger::classify_adapter_line(const std::string& line) {
  auto colon = line.find(": ");
  auto start = colon == std::string::npos ? 0 : colon + 2;
  for (auto [marker, lvl] : {std::pair{"ERROR ", log_level::error},
                             std::pair{"WARN ", log_level::warning}}) {
    std::string m = marker;
    if (line.compare(start, m.size(), m) == 0)
      return {lvl, line.substr(0, start) + line.substr(start + m.size())};
  }
  return {log_level::info, line};
}

void logger::adapter_line(const std::string& component,
                          const std::string& line) {
  auto [lvl, text] = classify_adapter_line(line);
  log(lvl, component, text);
}

} // namespace vf::runtime
