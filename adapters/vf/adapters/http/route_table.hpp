// vf/adapters/http/route_table.hpp
//
// The API's routes as data: (method, pattern, access, handler) entries that
// the routes_*.cpp files declare, checked once when a router is built and
// matched per request. What every route needs (rate limit, 404/405, the
// bearer check, deadlines, the error reply) is done around the handlers by
// the router, never inside them.

#pragma once

#include "vf/adapters/http/exchange.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vf::adapters::http {

class call;

/// Who may use a route; the router checks it before the handler runs.
enum class access : uint8_t {
  /// Anyone, never rate limited: probes and scrapes must get through.
  monitoring,
  /// Anyone, rate limited (login; the webhook checks its own secret).
  open,
  /// A bearer token of a live account (401 otherwise).
  user,
  /// A bearer token of an admin account (401 or 403 otherwise).
  admin,
};

/// Answers one request; runs on the connection's I/O thread.
using handler_fn = void (*)(call&);

/// One route: `method` on `pattern` (e.g. `/jobs/{id}`, at most two
/// `{param}` segments) is answered by `handler` for callers `who` admits.
/// There is no default constructor: an entry without a handler does not
/// compile, and a null handler is refused when the table is built.
struct route_entry {
  /// Declares one route.
  constexpr route_entry(http_method method, std::string_view pattern,
                        access who, handler_fn handler)
    : method(method), pattern(pattern), who(who), handler(handler) {
    // nop
  }

  /// The request method.
  http_method method;
  /// The path pattern; must be one of `route_pattern()` (the metric label).
  std::string_view pattern;
  /// Who may call it.
  access who;
  /// What answers it.
  handler_fn handler;
};

static_assert(!std::is_default_constructible<route_entry>::value,
              "a route must name its handler");
static_assert(!std::is_constructible<route_entry, http_method, std::string_view,
                                     access>::value,
              "a route must name its handler");

/// The routes of one API, checked when built. Immutable afterwards.
class route_table {
public:
  /// All methods of one pattern.
  struct resource {
    /// Metric label, from the pattern.
    route label = route::unmatched;
    /// The pattern as declared.
    std::string_view pattern;
    /// Path segments; the parameter's is `{name}`.
    std::vector<std::string_view> segments;
    /// Index of the `{param}` segment, or `npos`.
    size_t param_index = npos;
    /// Index of a second `{param}` segment, or `npos`.
    size_t param2_index = npos;
    /// Handler per `http_method`; null for methods the pattern lacks.
    std::array<handler_fn, http_method_count> handlers{};
    /// Access per `http_method`.
    std::array<access, http_method_count> who{};
    /// True if the rate limiter skips this pattern (`access::monitoring`).
    bool unlimited = false;
    /// The `Allow` header of a 405: the methods in `http_method` order.
    std::string allow;
  };

  /// No parameter segment.
  static constexpr size_t npos = static_cast<size_t>(-1);

  /// Checks and indexes `entries`. Throws `std::invalid_argument`, naming
  /// the entry, for a null handler, a malformed pattern, a pattern without
  /// a metric label, a duplicate (method, pattern), two patterns that match
  /// the same paths, or a pattern mixing `monitoring` with other access.
  explicit route_table(const std::vector<route_entry>& entries);

  /// Returns the resource whose pattern matches `path` (literal segments
  /// win over a parameter) and sets `param` to the parameter's segment;
  /// null if none matches.
  const resource* match(std::string_view path, std::string_view& param,
                        std::string_view& param2) const;

  /// Returns the number of patterns.
  size_t size() const {
    return resources_.size();
  }

private:
  std::vector<resource> resources_;
};

} // namespace vf::adapters::http
