// vf/runtime/logger.hpp

#pragma once

#include <mutex>
#include <string>

namespace vf::runtime {

/// Severity of a log line.
enum class log_level { debug, info, warning, error };

/// A small thread-safe logger writing `time level component: text` lines
/// to stdout (CAF 0.17.6 compiles its own logging out).
class logger {
public:
  /// Sets the lowest level that is printed.
  void set_level(log_level x);

  /// Parses `debug|info|warning|error`; returns false for anything else.
  static bool parse(const std::string& str, log_level& x);

  /// Prints one line if `lvl` is enabled.
  void log(log_level lvl, const std::string& component,
           const std::string& text);

  void info(const std::string& component, const std::string& text) {
    log(log_level::info, component, text);
  }

  void warn(const std::string& component, const std::string& text) {
    log(log_level::warning, component, text);
  }

  void error(const std::string& component, const std::string& text) {
    log(log_level::error, component, text);
  }

private:
  std::mutex mtx_;
  log_level level_ = log_level::info;
};

} // namespace vf::runtime
