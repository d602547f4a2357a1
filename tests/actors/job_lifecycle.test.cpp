#define CAF_SUITE actors.job_lifecycle

#include "vf/actors/job_lifecycle.hpp"

#include "vf_test.hpp"

#include <array>
#include <optional>
#include <string>

using namespace vf;
using actors::job_effect;
using actors::job_event;
using actors::job_transition;
using messages::errc;
using messages::job_status;

namespace {

using expectation = std::optional<job_transition>;

constexpr auto A = job_status::awaiting_upload;
constexpr auto S = job_status::submitted;
constexpr auto P = job_status::processing;
constexpr auto OK = job_status::succeeded;
constexpr auto F = job_status::failed;
constexpr auto C = job_status::cancelled;
constexpr auto E = job_status::expired;

constexpr auto cancel_lease = job_effect::cancel_lease;
constexpr auto mark_redriven = job_effect::mark_redriven;
constexpr auto persist = job_effect::persist;
constexpr auto record = job_effect::record_outcome;
constexpr auto dispatch = job_effect::dispatch;
constexpr auto start = job_effect::start_attempt;
constexpr auto store_result = job_effect::store_result;
constexpr auto bury = job_effect::bury;
constexpr auto later_attempt = job_effect::retry_attempt_later;
constexpr auto later_result = job_effect::retry_result_later;
constexpr auto later_burial = job_effect::retry_burial_later;
constexpr auto read_ledger = job_effect::read_ledger;
constexpr auto forget = job_effect::forget;

expectation to(job_status s, job_effect fx) {
  return job_transition{s, fx};
}

const expectation no = std::nullopt;

struct row {
  job_event event;
  /// By `job_status`: AWAITING_UPLOAD, SUBMITTED, PROCESSING, SUCCEEDED,
  /// FAILED, CANCELLED, EXPIRED.
  std::array<expectation, messages::job_status_count> cells;
};

// The job lifecycle, written out independently of job_lifecycle.cpp: every
// state x event pair, legal or not. docs/architecture.md draws the same.
const std::array<row, actors::job_event_count>& expected() {
  static const std::array<row, actors::job_event_count> rows{{
    // clang-format off
    //                          A                          S                                  P                                   OK  F                                  C   E
    {job_event::upload_arrived,     {to(S, persist | start), no, no, no, no, no, no}},
    {job_event::attempt_started,    {no, to(P, persist | dispatch), to(P, persist | dispatch), no, no, no, no}},
    {job_event::outcome_arrived,    {no, no, to(P, record), no, no, no, no}},
    {job_event::report_adopted,     {no, no, to(P, cancel_lease | record), no, no, no, no}},
    {job_event::step_succeeded,     {no, no, to(P, start), no, no, no, no}},
    {job_event::last_step_succeeded,{no, to(S, store_result), to(P, store_result), no, no, no, no}},
    {job_event::result_stored,      {no, to(OK, persist | forget), to(OK, persist | forget), no, no, no, no}},
    {job_event::result_failed,      {no, to(S, later_result), to(P, later_result), no, no, no, no}},
    {job_event::result_due,         {no, to(S, store_result), to(P, store_result), no, no, no, no}},
    {job_event::transient_failure,  {no, no, to(P, persist | later_attempt), no, no, no, no}},
    {job_event::attempt_due,        {no, no, to(P, start), no, no, no, no}},
    {job_event::permanent_failure,  {no, to(F, bury), to(F, bury), no, no, no, no}},
    {job_event::burial_failed,      {no, no, no, no, to(F, later_burial), no, no}},
    {job_event::burial_due,         {no, no, no, no, to(F, bury), no, no}},
    {job_event::cancel,             {to(C, persist), to(C, cancel_lease | persist | forget), to(C, cancel_lease | persist | forget), no, no, no, no}},
    {job_event::redrive,            {no, no, no, no, to(S, mark_redriven | persist | start), no, no}},
    {job_event::expire,             {to(E, persist), no, no, no, no, no, no}},
    {job_event::recover,            {no, to(S, read_ledger), to(P, read_ledger), no, no, no, no}},
    // clang-format on
  }};
  return rows;
}

constexpr std::array<job_status, messages::job_status_count> all_states{
  {A, S, P, OK, F, C, E}};

std::string show(const expectation& x) {
  if (!x)
    return "illegal";
  return to_string(x->to) + " {" + to_string(x->effects) + "}";
}

messages::job sample(job_status st) {
  messages::job j;
  j.id = "j1";
  j.status = st;
  j.step = "summarize";
  j.attempts = 2;
  j.next_attempt_at = 77;
  j.error_code = vf::messages::errc::timeout;
  j.error_message = "slow";
  j.updated_at = 10;
  j.series = 3;
  return j;
}

bool same(const messages::job& x, const messages::job& y) {
  return x.status == y.status && x.step == y.step && x.attempts == y.attempts
         && x.next_attempt_at == y.next_attempt_at
         && x.error_code == y.error_code && x.error_message == y.error_message
         && x.updated_at == y.updated_at && x.series == y.series;
}

} // namespace

CAF_TEST(every state and event pair has the expected outcome) {
  size_t pairs = 0;
  size_t legal = 0;
  for (size_t e = 0; e < actors::job_event_count; ++e) {
    auto& r = expected()[e];
    CAF_REQUIRE_EQUAL(static_cast<size_t>(r.event), e); // rows in enum order
    for (auto st : all_states) {
      auto want = r.cells[static_cast<size_t>(st)];
      auto got = actors::next(st, r.event);
      CAF_MESSAGE(to_string(st) << " x " << to_string(r.event) << " -> "
                                << show(got));
      CAF_CHECK_EQUAL(show(got), show(want));
      ++pairs;
      if (got)
        ++legal;
    }
  }
  CAF_CHECK_EQUAL(pairs, actors::job_event_count * messages::job_status_count);
  CAF_CHECK_EQUAL(legal, 27u);
}

CAF_TEST(terminal states accept nothing but the burial and redrive of a failed job) {
  for (size_t e = 0; e < actors::job_event_count; ++e) {
    auto ev = static_cast<job_event>(e);
    for (auto st : {OK, C, E})
      CAF_CHECK(!actors::next(st, ev));
    auto f = actors::next(F, ev);
    CAF_CHECK_EQUAL(f.has_value(), ev == job_event::burial_failed
                                     || ev == job_event::burial_due
                                     || ev == job_event::redrive);
  }
}

CAF_TEST(a failed burial keeps the job failed and never reruns the step) {
  // The old handler turned FAILED back into PROCESSING, and the retry timer
  // then started another attempt of the step.
  auto t = actors::next(F, job_event::burial_failed);
  CAF_REQUIRE(t);
  CAF_CHECK(t->to == F);
  CAF_CHECK(!has(t->effects, start));
  CAF_CHECK(!has(t->effects, dispatch));
  CAF_CHECK(!actors::next(F, job_event::attempt_due));
  CAF_CHECK(!actors::next(F, job_event::attempt_started));
}

CAF_TEST(illegal pairs leave the job untouched) {
  for (size_t e = 0; e < actors::job_event_count; ++e) {
    auto ev = static_cast<job_event>(e);
    for (auto st : all_states) {
      if (actors::next(st, ev))
        continue;
      auto j = sample(st);
      actors::job_event_data d;
      d.now = 999;
      d.code = errc::bad_media;
      d.message = "x";
      CAF_CHECK(!actors::apply(j, ev, d));
      CAF_CHECK(same(j, sample(st)));
    }
  }
}

CAF_TEST(apply moves the status by the table for every legal pair) {
  for (size_t e = 0; e < actors::job_event_count; ++e) {
    auto ev = static_cast<job_event>(e);
    for (auto st : all_states) {
      auto t = actors::next(st, ev);
      if (!t)
        continue;
      auto j = sample(st);
      actors::job_event_data d;
      d.now = 999;
      auto fx = actors::apply(j, ev, d);
      CAF_REQUIRE(fx);
      CAF_CHECK(*fx == t->effects);
      CAF_CHECK(j.status == t->to);
      // A written record carries the time of its change; others keep it.
      auto writes = has(t->effects, persist) || has(t->effects, bury);
      CAF_CHECK_EQUAL(j.updated_at, writes ? 999 : 10);
    }
  }
}

CAF_TEST(apply sets the fields each event owns) {
  actors::job_event_data d;
  d.now = 500;
  d.code = errc::throttled;
  d.message = "slow down";
  d.next_attempt_at = 900;
  {
    auto j = sample(P);
    CAF_REQUIRE(actors::apply(j, job_event::transient_failure, d));
    CAF_CHECK_EQUAL(j.error_code, vf::messages::errc::throttled);
    CAF_CHECK_EQUAL(j.error_message, "slow down");
    CAF_CHECK_EQUAL(j.next_attempt_at, 900);
    CAF_CHECK_EQUAL(j.attempts, 2u);
  }
  {
    auto j = sample(P);
    d.code = errc::bad_media;
    d.message = "not media";
    CAF_REQUIRE(actors::apply(j, job_event::permanent_failure, d));
    CAF_CHECK(j.status == F);
    CAF_CHECK_EQUAL(j.error_code, vf::messages::errc::bad_media);
    CAF_CHECK_EQUAL(j.error_message, "not media");
    CAF_CHECK_EQUAL(j.next_attempt_at, 0);
  }
  {
    auto j = sample(P);
    CAF_REQUIRE(actors::apply(j, job_event::attempt_started, d));
    CAF_CHECK_EQUAL(j.next_attempt_at, 0);
    CAF_CHECK_EQUAL(j.error_code, vf::messages::errc::timeout); // the last error stays visible
  }
  {
    auto j = sample(P);
    CAF_REQUIRE(actors::apply(j, job_event::result_stored, d));
    CAF_CHECK(j.status == OK);
    CAF_CHECK(j.step.empty());
    CAF_CHECK(j.error_code == vf::messages::errc::none);
    CAF_CHECK(j.error_message.empty());
    CAF_CHECK_EQUAL(j.next_attempt_at, 0);
  }
  {
    auto j = sample(P);
    CAF_REQUIRE(actors::apply(j, job_event::cancel, d));
    CAF_CHECK(j.status == C);
    CAF_CHECK_EQUAL(j.error_code, vf::messages::errc::cancelled);
    CAF_CHECK_EQUAL(j.error_message, "cancelled on request");
    CAF_CHECK_EQUAL(j.next_attempt_at, 0);
  }
  {
    auto j = sample(A);
    j.error_code = vf::messages::errc::none;
    j.error_message.clear();
    CAF_REQUIRE(actors::apply(j, job_event::expire, d));
    CAF_CHECK(j.status == E);
    CAF_CHECK_EQUAL(j.error_code, vf::messages::errc::expired);
    CAF_CHECK_EQUAL(j.error_message,
                    "no upload arrived before the upload URL expired");
    CAF_CHECK_EQUAL(j.updated_at, 500);
  }
  {
    auto j = sample(A);
    CAF_REQUIRE(actors::apply(j, job_event::upload_arrived, d));
    CAF_CHECK(j.status == S);
    CAF_CHECK(j.step.empty());
    CAF_CHECK_EQUAL(j.attempts, 0u);
    CAF_CHECK(j.error_code == vf::messages::errc::none);
    CAF_CHECK_EQUAL(j.series, 3u);
  }
  {
    auto j = sample(F);
    CAF_REQUIRE(actors::apply(j, job_event::redrive, d));
    CAF_CHECK(j.status == S);
    CAF_CHECK_EQUAL(j.series, 4u); // a new attempt series
    CAF_CHECK_EQUAL(j.attempts, 0u);
    CAF_CHECK(j.error_code == vf::messages::errc::none);
  }
}

CAF_TEST(events and effects have names) {
  CAF_CHECK_EQUAL(to_string(job_event::upload_arrived), "upload_arrived");
  CAF_CHECK_EQUAL(to_string(job_event::recover), "recover");
  CAF_CHECK_EQUAL(to_string(job_effect::none), "none");
  CAF_CHECK_EQUAL(to_string(persist | dispatch), "persist+dispatch");
  CAF_CHECK_EQUAL(to_string(forget), "forget");
}
