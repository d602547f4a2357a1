// vf/actors/job_lifecycle.cpp

#include "vf/actors/job_lifecycle.hpp"

#include <array>

namespace vf::actors {

using messages::errc;
using messages::job_status;

namespace {

using effect = job_effect;
using status = job_status;

/// One cell of the table: legal or not, and where to.
struct cell {
  bool legal = false;
  job_transition to{job_status::awaiting_upload, job_effect::none};
};

constexpr cell to(status s, effect e) {
  return cell{true, job_transition{s, e}};
}

constexpr cell illegal{};

constexpr auto n_states = messages::job_status_count;

using row = std::array<cell, n_states>;

// Columns, in `job_status` order:
//   AWAITING_UPLOAD, SUBMITTED, PROCESSING, SUCCEEDED, FAILED, CANCELLED,
//   EXPIRED.
// Terminal states accept nothing but what revives a FAILED job (its burial
// and a redrive); SUCCEEDED, CANCELLED and EXPIRED accept nothing at all.
constexpr auto A = status::awaiting_upload;
constexpr auto S = status::submitted;
constexpr auto P = status::processing;
constexpr auto OK = status::succeeded;
constexpr auto F = status::failed;
constexpr auto C = status::cancelled;
constexpr auto E = status::expired;
constexpr auto x = illegal;

constexpr std::array<row, job_event_count> table{{
  // upload_arrived: SUBMITTED durably, then the first attempt.
  {to(S, effect::persist | effect::start_attempt), x, x, x, x, x, x},
  // attempt_started: PROCESSING durably, then the lease.
  {x, to(P, effect::persist | effect::dispatch),
   to(P, effect::persist | effect::dispatch), x, x, x, x},
  // outcome_arrived: into the ledger before anything acts on it.
  {x, x, to(P, effect::record_outcome), x, x, x, x},
  // report_adopted: the running attempt is redundant now.
  {x, x, to(P, effect::cancel_lease | effect::record_outcome), x, x, x, x},
  // step_succeeded: on to the next step.
  {x, x, to(P, effect::start_attempt), x, x, x, x},
  // last_step_succeeded: the result first (a recovered SUBMITTED job may
  // have every step recorded already).
  {x, to(S, effect::store_result), to(P, effect::store_result), x, x, x, x},
  // result_stored
  {x, to(OK, effect::persist | effect::forget),
   to(OK, effect::persist | effect::forget), x, x, x, x},
  // result_failed: the steps are recorded; only the write is repeated.
  {x, to(S, effect::retry_result_later), to(P, effect::retry_result_later),
   x, x, x, x},
  // result_due
  {x, to(S, effect::store_result), to(P, effect::store_result), x, x, x, x},
  // transient_failure: stays PROCESSING with the error and the next
  // attempt's time visible.
  {x, x, to(P, effect::persist | effect::retry_attempt_later), x, x, x, x},
  // attempt_due
  {x, x, to(P, effect::start_attempt), x, x, x, x},
  // permanent_failure: the dead letter and FAILED in one transaction.
  {x, to(F, effect::bury), to(F, effect::bury), x, x, x, x},
  // burial_failed: FAILED stays FAILED; the burial is tried again, never
  // the step.
  {x, x, x, x, to(F, effect::retry_burial_later), x, x},
  // burial_due
  {x, x, x, x, to(F, effect::bury), x, x},
  // cancel
  {to(C, effect::persist),
   to(C, effect::cancel_lease | effect::persist | effect::forget),
   to(C, effect::cancel_lease | effect::persist | effect::forget), x, x, x,
   x},
  // redrive: a new attempt series, the record marked first.
  {x, x, x, x,
   to(S, effect::mark_redriven | effect::persist | effect::start_attempt), x,
   x},
  // expire: decided here; the store only lists candidates and persists.
  {to(E, effect::persist), x, x, x, x, x, x},
  // recover
  {x, to(S, effect::read_ledger), to(P, effect::read_ledger), x, x, x, x},
}};

constexpr std::array<const char*, job_event_count> event_names{{
  "upload_arrived",
  "attempt_started",
  "outcome_arrived",
  "report_adopted",
  "step_succeeded",
  "last_step_succeeded",
  "result_stored",
  "result_failed",
  "result_due",
  "transient_failure",
  "attempt_due",
  "permanent_failure",
  "burial_failed",
  "burial_due",
  "cancel",
  "redrive",
  "expire",
  "recover",
}};

constexpr std::array<const char*, 13> effect_names{{
  "cancel_lease",
  "mark_redriven",
  "persist",
  "record_outcome",
  "dispatch",
  "start_attempt",
  "store_result",
  "bury",
  "retry_attempt_later",
  "retry_result_later",
  "retry_burial_later",
  "read_ledger",
  "forget",
}};

static_assert(1u << (effect_names.size() - 1)
                == static_cast<unsigned>(job_effect::forget),
              "every job_effect bit needs a name");

void set_error(messages::job& j, errc code, std::string msg) {
  j.error_code = code;
  j.error_message = std::move(msg);
}

void clear_error(messages::job& j) {
  j.error_code = errc::none;
  j.error_message.clear();
}

} // namespace

std::string to_string(job_event ev) {
  auto i = static_cast<size_t>(ev);
  return i < event_names.size() ? event_names[i] : "unknown";
}

std::string to_string(job_effect fx) {
  if (fx == job_effect::none)
    return "none";
  std::string out;
  for (size_t i = 0; i < effect_names.size(); ++i) {
    if (has(fx, static_cast<job_effect>(1u << i))) {
      if (!out.empty())
        out += '+';
      out += effect_names[i];
    }
  }
  return out;
}

std::optional<job_transition> next(job_status from, job_event event) {
  auto e = static_cast<size_t>(event);
  auto s = static_cast<size_t>(from);
  if (e >= table.size() || s >= n_states || !table[e][s].legal)
    return std::nullopt;
  return table[e][s].to;
}

std::optional<job_effect> apply(messages::job& j, job_event event,
                                const job_event_data& data) {
  auto t = next(j.status, event);
  if (!t)
    return std::nullopt;
  j.status = t->to;
  switch (event) {
    case job_event::redrive:
      j.series += 1;
      [[fallthrough]];
    case job_event::upload_arrived:
      j.step.clear();
      j.attempts = 0;
      j.next_attempt_at = 0;
      clear_error(j);
      break;
    case job_event::attempt_started:
      j.next_attempt_at = 0;
      break;
    case job_event::transient_failure:
      set_error(j, data.code, data.message);
      j.next_attempt_at = data.next_attempt_at;
      break;
    case job_event::result_failed:
      set_error(j, data.code, data.message);
      break;
    case job_event::permanent_failure:
      set_error(j, data.code, data.message);
      j.next_attempt_at = 0;
      break;
    case job_event::result_stored:
      j.step.clear();
      j.next_attempt_at = 0;
      clear_error(j);
      break;
    case job_event::cancel:
      j.next_attempt_at = 0;
      set_error(j, errc::cancelled, "cancelled on request");
      break;
    case job_event::expire:
      set_error(j, errc::expired,
                "no upload arrived before the upload URL expired");
      break;
    default:
      break;
  }
  // A record that is written carries the time of its change.
  if (has(t->effects, job_effect::persist) || has(t->effects, job_effect::bury))
    j.updated_at = data.now;
  return t->effects;
}

} // namespace vf::actors
