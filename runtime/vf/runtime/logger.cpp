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

void logger::log(log_level lvl, const std::string& component,
                 const std::string& text) {
  static const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> guard{mtx_};
  if (lvl < level_)
    return;
  std::printf("%s.%03dZ %-5s %s: %s\n", stamp, static_cast<int>(ms),
              names[static_cast<int>(lvl)], component.c_str(), text.c_str());
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
