#define CAF_SUITE actors.worker

#include "vf/actors/worker.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <map>
#include <memory>
#include <vector>

using namespace caf;
using namespace vf;
using namespace std::chrono_literals;
using messages::errc;
using messages::task_kind;

namespace {

/// The fake media port's interface: the real one plus `(cancel, lease)`,
/// which answers a held probe with `cancelled` (as the real one does when its
/// control port flips the interrupt flag).
using fake_media_actor = messages::media_actor::extend<
  caf::reacts_to<atoms::cancel, uint64_t>>;

struct fake_media_state {
  std::map<uint64_t, typed_response_promise<std::string>> held;
};

/// A media port that answers from a table: path → JSON or error; "hang"
/// holds the probe until cancelled.
fake_media_actor::behavior_type
fake_media(fake_media_actor::stateful_pointer<fake_media_state> self) {
  return {
    [=](atoms::probe, const messages::object_ref& obj, const std::string&,
        uint32_t, uint64_t lease) -> result<std::string> {
      if (obj.key == "hang") {
        auto rp = self->make_response_promise<std::string>();
        self->state.held.emplace(lease, rp);
        return rp;
      }
      if (obj.key == "bad")
        return messages::make_error(errc::bad_media, "not a media file");
      if (obj.key == "slow")
        return messages::make_error(errc::timeout, "deadline hit");
      return std::string{R"({"format":{"duration":"1.0"}})"};
    },
    [=](atoms::render, const messages::object_ref& obj, const std::string&,
        const std::string& input, const std::vector<messages::object_ref>&,
        const std::vector<messages::object_ref>&, uint32_t,
        uint64_t lease) -> result<std::string> {
      if (obj.key == "hang") {
        auto rp = self->make_response_promise<std::string>();
        self->state.held.emplace(lease, rp);
        return rp;
      }
      if (obj.key == "bad")
        return messages::make_error(errc::bad_media, "broken at 1.2 s");
      return std::string{R"({"rendered":)"} + input + "}";
    },
    [=](atoms::cancel, uint64_t lease) {
      auto i = self->state.held.find(lease);
      if (i == self->state.held.end())
        return;
      i->second.deliver(
        messages::make_error(errc::cancelled, "probe interrupted"));
      self->state.held.erase(i);
    },
  };
}

/// A control port that forwards cancels to the fake media actor.
messages::media_control_actor::behavior_type
fake_control(messages::media_control_actor::pointer self,
             fake_media_actor media) {
  return {
    [=](atoms::cancel, uint64_t lease) {
      self->send(media, atoms::cancel_v, lease);
      return true;
    },
  };
}

messages::summarizer_actor::behavior_type fake_summarizer() {
  return {
    [](atoms::summarize, const std::string& name,
       const std::string& meta) -> result<std::string> {
      if (name == "throttle")
        return messages::make_error(errc::throttled, "slow down");
      return name + ": " + meta;
    },
  };
}

struct fixture : testing::fixture_base {
  fixture() {
    actors::worker_config cfg;
    cfg.name = "n1/w1";
    media = sys.spawn(fake_media);
    cfg.media = media;
    cfg.media_control = sys.spawn(fake_control, media);
    cfg.summarizer = sys.spawn(fake_summarizer);
    cfg.on_finished = [seen{seen}](const messages::task_outcome& out) {
      seen->push_back(out);
    };
    w = sys.spawn(actors::worker, cfg);
    consume_messages();
  }

  messages::task_outcome run(task_kind kind, std::string key,
                             std::string filename = "clip.mp4",
                             std::string input = "{}") {
    messages::task t;
    t.job_id = "j";
    t.kind = kind;
    t.object.key = std::move(key);
    t.filename = std::move(filename);
    t.input = std::move(input);
    t.lease_id = 9;
    self->send(w, atoms::run_v, t);
    consume_messages();
    messages::task_outcome out;
    self->receive([&](messages::task_outcome& x) { out = std::move(x); },
                  after(std::chrono::seconds(0)) >> [] {});
    return out;
  }

  /// Sends `run` for a task of `kind` on the "hang" object, which the fake
  /// media port holds until cancelled.
  void run_hanging(task_kind kind, uint64_t lease) {
    messages::task t;
    t.job_id = "j";
    t.kind = kind;
    t.object.key = "hang";
    t.lease_id = lease;
    self->send(w, atoms::run_v, t);
    consume_messages();
  }

  actors::worker_impl_actor w;
  fake_media_actor media;
  /// What `on_finished` (the effects log's hook) was told.
  std::shared_ptr<std::vector<messages::task_outcome>> seen
    = std::make_shared<std::vector<messages::task_outcome>>();
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(worker_tests, fixture)

CAF_TEST(probe output passes through) {
  auto out = run(task_kind::probe, "good");
  CAF_CHECK(out.ok);
  CAF_CHECK_EQUAL(out.lease_id, 9u);
  CAF_CHECK_EQUAL(out.worker, "n1/w1");
  CAF_CHECK_EQUAL(out.output, R"({"format":{"duration":"1.0"}})");
}

CAF_TEST(failures are classified by code) {
  auto out = run(task_kind::probe, "bad");
  CAF_CHECK(!out.ok);
  CAF_CHECK_EQUAL(out.error_code, messages::errc::bad_media);
  CAF_CHECK_EQUAL(out.error_message, "not a media file");
  CAF_CHECK(!out.transient);
  out = run(task_kind::probe, "slow");
  CAF_CHECK_EQUAL(out.error_code, messages::errc::timeout);
  CAF_CHECK(out.transient);
  out = run(task_kind::summarize, "", "throttle");
  CAF_CHECK_EQUAL(out.error_code, messages::errc::throttled);
  CAF_CHECK(out.transient);
}

CAF_TEST(summaries use the previous output) {
  auto out = run(task_kind::summarize, "", "a.mp4", "{meta}");
  CAF_CHECK(out.ok);
  CAF_CHECK_EQUAL(out.output, "a.mp4: {meta}");
}

CAF_TEST(a synthetic sleep finishes on the actor clock) {
  messages::task t;
  t.job_id = "j";
  t.kind = task_kind::sleep;
  t.input = "250";
  t.lease_id = 3;
  self->send(w, atoms::run_v, t);
  consume_messages();
  bool done = false;
  self->receive([&](messages::task_outcome&) { done = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(!done);
  advance_time(250ms);
  consume_messages();
  self->receive([&](messages::task_outcome& x) { done = x.ok; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(done);
}

CAF_TEST(a dead port is a lost worker and not a media verdict) {
  auto& cfg = deref<actors::worker_impl>(w).state.cfg;
  anon_send_exit(cfg.media, exit_reason::kill);
  consume_messages();
  auto out = run(task_kind::probe, "good");
  CAF_CHECK(!out.ok);
  CAF_CHECK_EQUAL(out.error_code, messages::errc::worker_lost);
  CAF_CHECK(out.transient);
}

CAF_TEST(a cancelled probe ends with a cancelled outcome) {
  run_hanging(task_kind::probe, 11);
  bool answered = false;
  self->receive([&](messages::task_outcome&) { answered = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(!answered);
  self->send(w, atoms::cancel_v, uint64_t{99}); // not its lease: no effect
  consume_messages();
  self->receive([&](messages::task_outcome&) { answered = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(!answered);
  self->send(w, atoms::cancel_v, uint64_t{11});
  consume_messages();
  messages::task_outcome out;
  self->receive([&](messages::task_outcome& x) { out = std::move(x); },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(out.lease_id, 11u);
  CAF_CHECK_EQUAL(out.error_code, messages::errc::cancelled);
  CAF_CHECK(!out.transient);
}

CAF_TEST(a render goes to the media port with its job and input) {
  auto out = run(task_kind::render, "good", "clip.mp4", R"({"recipe":{}})");
  CAF_CHECK(out.ok);
  CAF_CHECK_EQUAL(out.kind, task_kind::render);
  CAF_CHECK_EQUAL(out.output, R"({"rendered":{"recipe":{}}})");
  out = run(task_kind::render, "bad");
  CAF_CHECK(!out.ok);
  CAF_CHECK_EQUAL(out.error_code, messages::errc::bad_media);
  CAF_CHECK_EQUAL(out.error_message, "broken at 1.2 s");
}

CAF_TEST(a cancelled render ends with a cancelled outcome) {
  run_hanging(task_kind::render, 12);
  self->send(w, atoms::cancel_v, uint64_t{12});
  consume_messages();
  messages::task_outcome out;
  self->receive([&](messages::task_outcome& x) { out = std::move(x); },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(out.lease_id, 12u);
  CAF_CHECK_EQUAL(out.error_code, messages::errc::cancelled);
}

CAF_TEST(render progress goes to whoever sent the run) {
  run_hanging(task_kind::render, 12);
  std::vector<std::pair<uint64_t, uint8_t>> got;
  auto drain = [&] {
    consume_messages();
    for (bool more = true; more;)
      self->receive(
        [&](atoms::progress, uint64_t lease, uint8_t pct) {
          got.emplace_back(lease, pct);
        },
        after(std::chrono::seconds(0)) >> [&] { more = false; });
  };
  caf::send_as(media, w, atoms::progress_v, uint64_t{12}, uint8_t{7});
  drain();
  CAF_CHECK_EQUAL(got.size(), 1u);
  // Passed on only when the whole percent grew, only from its media
  // actor, only for a lease it runs; capped at 100.
  caf::send_as(media, w, atoms::progress_v, uint64_t{12}, uint8_t{7});
  self->send(w, atoms::progress_v, uint64_t{12}, uint8_t{60});
  caf::send_as(media, w, atoms::progress_v, uint64_t{13}, uint8_t{60});
  drain();
  CAF_CHECK_EQUAL(got.size(), 1u);
  caf::send_as(media, w, atoms::progress_v, uint64_t{12}, uint8_t{255});
  drain();
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK_EQUAL(got[0], std::make_pair(uint64_t{12}, uint8_t{7}));
  CAF_CHECK_EQUAL(got[1], std::make_pair(uint64_t{12}, uint8_t{100}));
  self->send(w, atoms::cancel_v, uint64_t{12});
  consume_messages();
  messages::task_outcome out;
  self->receive([&](messages::task_outcome& x) { out = std::move(x); },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(out.error_code, messages::errc::cancelled);
  // After the lease: nothing goes out.
  caf::send_as(media, w, atoms::progress_v, uint64_t{12}, uint8_t{100});
  drain();
  CAF_CHECK_EQUAL(got.size(), 2u);
}

CAF_TEST(a cancelled sleep ends at once) {
  messages::task t;
  t.job_id = "j";
  t.kind = task_kind::sleep;
  t.input = "60000";
  t.lease_id = 12;
  self->send(w, atoms::run_v, t);
  self->send(w, atoms::cancel_v, uint64_t{12});
  consume_messages();
  messages::task_outcome out;
  self->receive([&](messages::task_outcome& x) { out = std::move(x); },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(out.error_code, messages::errc::cancelled);
}

CAF_TEST(every outcome answered is told to the effects hook) {
  auto good = run(task_kind::probe, "good");
  auto bad = run(task_kind::probe, "bad");
  auto sum = run(task_kind::summarize, "", "a.mp4", "{meta}");
  messages::task t;
  t.job_id = "j";
  t.kind = task_kind::sleep;
  t.input = "60000";
  t.lease_id = 12;
  self->send(w, atoms::run_v, t);
  self->send(w, atoms::cancel_v, uint64_t{12});
  consume_messages();
  self->receive([](messages::task_outcome&) {},
                after(std::chrono::seconds(0)) >> [] {});
  CAF_REQUIRE_EQUAL(seen->size(), 4u);
  CAF_CHECK((*seen)[0].ok);
  CAF_CHECK_EQUAL((*seen)[0].output, good.output);
  CAF_CHECK(!(*seen)[1].ok);
  CAF_CHECK_EQUAL((*seen)[1].error_code, bad.error_code);
  CAF_CHECK_EQUAL((*seen)[2].kind, task_kind::summarize);
  CAF_CHECK_EQUAL((*seen)[2].output, sum.output);
  CAF_CHECK_EQUAL((*seen)[3].lease_id, 12u);
  CAF_CHECK_EQUAL((*seen)[3].error_code, messages::errc::cancelled);
  // A task it cannot run is refused, not executed: no line.
  t.input = "soon";
  t.lease_id = 13;
  self->send(w, atoms::run_v, t);
  consume_messages();
  self->receive([](messages::task_outcome&) {},
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(seen->size(), 4u);
}

CAF_TEST_FIXTURE_SCOPE_END()
