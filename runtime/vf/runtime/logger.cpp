// vf/runtime/logger.cpp

#include "vf/runtime/logger.hpp"

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

// Appends `x` as a JSON string; bytes that are no UTF-8 text (a control
// character, a stray high byte) are escaped or replaced, so a line stays
// one valid JSON object whatever a message quotes.
void append_json(std::string& out, const std::string& x) {
  out += '"';
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = static_cast<unsigned char>(x[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else if (c < 0x80) {
          out += static_cast<char>(c);
        } else {
          // Copies a well-formed UTF-8 sequence, replaces anything else.
          size_t n = c >= 0xf0 && c <= 0xf4   ? 4
                     : c >= 0xe0              ? 3
                     : c >= 0xc2 && c <= 0xdf ? 2
                                              : 0;
          bool ok = n > 0 && i + n <= x.size();
          for (size_t k = 1; ok && k < n; ++k)
            ok = (static_cast<unsigned char>(x[i + k]) & 0xc0) == 0x80;
          if (ok) {
            out.append(x, i, n);
            i += n - 1;
          } else {
            out += "\\ufffd";
          }
        }
    }
  }
  out += '"';
}

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
    append_json(out, stamp);
    out += R"(,"level":)";
    append_json(out, lower[static_cast<int>(lvl)]);
    out += R"(,"component":)";
    append_json(out, component);
    out += R"(,"msg":)";
    append_json(out, text);
    for (auto& [k, v] : fields) {
      out += ',';
      append_json(out, k);
      out += ':';
      append_json(out, v);
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
