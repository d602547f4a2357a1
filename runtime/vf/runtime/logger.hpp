// vf/runtime/logger.hpp

#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vf::runtime {

/// Severity of a log line.
enum class log_level { debug, info, warning, error };

/// How lines look: `text` (`time LEVEL component: text key=value`) or
/// `json` (one object per line: `ts`, `level`, `component`, `msg` and the
/// line's fields, e.g. `request_id`, `job_id`).
enum class log_format { text, json };

/// Named values a line carries besides its text (`request_id`, `job_id`,
/// `node`, ...), in order.
using log_fields = std::vector<std::pair<std::string, std::string>>;

/// A small thread-safe logger writing `time level component: text` lines
/// to stdout (CAF 0.17.6 compiles its own logging out).
class logger {
public:
  /// Sets the lowest level that is printed.
  void set_level(log_level x);

  /// Parses `debug|info|warning|error`; returns false for anything else.
  static bool parse(const std::string& str, log_level& x);

  /// Sets how lines look.
  void set_format(log_format x);

  /// Parses `text|json`; returns false for anything else.
  static bool parse(const std::string& str, log_format& x);

  /// Prints one line with `fields` if `lvl` is enabled.
  void log(log_level lvl, const std::string& component,
           const std::string& text, const log_fields& fields);

  /// Returns the line `log` prints (without the newline), for tests.
  static std::string format_line(log_format fmt, const std::string& stamp,
                                 log_level lvl, const std::string& component,
                                 const std::string& text,
                                 const log_fields& fields);

  /// Prints one line if `lvl` is enabled.
  void log(log_level lvl, const std::string& component,
           const std::string& text) {
    log(lvl, component, text, {});
  }

  void info(const std::string& component, const std::string& text) {
    log(log_level::info, component, text);
  }
  void info(const std::string& component, const std::string& text,
            const log_fields& fields) {
    log(log_level::info, component, text, fields);
  }

  void warn(const std::string& component, const std::string& text) {
    log(log_level::warning, component, text);
  }

  void error(const std::string& component, const std::string& text) {
    log(log_level::error, component, text);
  }

  /// Logs a line an adapter handed to its `log` callback. Adapters know no
  /// levels of ours; they mark problems with `ERROR ` or `WARN ` as the
  /// first word after their own `name: ` prefix (e.g. `objectstore: ERROR
  /// fsync failed: No space left on device`). Marked lines go out at that
  /// level without the marker, all others at INFO.
  void adapter_line(const std::string& component, const std::string& line);

  /// Returns the level and text `adapter_line` would log `line` with.
  static std::pair<log_level, std::string>
  classify_adapter_line(const std::string& line);

private:
  std::mutex mtx_;
  log_level level_ = log_level::info;
  log_format format_ = log_format::text;
};

} // namespace vf::runtime
