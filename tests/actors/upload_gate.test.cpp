#define CAF_SUITE actors.upload_gate

#include "vf/actors/dispatcher.hpp"
#include "vf/actors/upload_gate.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

using namespace caf;
using namespace vf;
using messages::errc;
using messages::job_status;
using messages::task_kind;

namespace {

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    actors::upload_gate_config cfg;
    cfg.bucket = "uploads";
    gate = sys.spawn(actors::upload_gate, store, cfg);
    consume_messages();
    for (auto status : {job_status::awaiting_upload, job_status::submitted,
                        job_status::processing, job_status::succeeded,
                        job_status::failed, job_status::cancelled,
                        job_status::expired}) {
      messages::job j;
      j.id = to_string(status);
      j.bucket = "uploads";
      j.key = "uploads/" + j.id + "/clip.mp4";
      j.status = status;
      if (status == job_status::succeeded || status == job_status::processing
          || status == job_status::submitted) {
        j.object = {j.bucket, j.key, "v1", "etag1", 10, {}, {}};
      }
      st().jobs[j.id] = j;
    }
  }

  testing::fake_store_state& st() {
    return deref<testing::fake_store_impl>(store).state;
  }

  expected<messages::object_ref> admit(const std::string& bucket,
                                       const std::string& key,
                                       uint64_t lease = 0) {
    self->send(gate, atoms::admit_v, bucket, key, lease);
    consume_messages();
    expected<messages::object_ref> result
      = messages::make_error(errc::internal, "no reply");
    self->receive([&](messages::object_ref& x) { result = std::move(x); },
                  [&](error& x) { result = std::move(x); },
                  after(std::chrono::seconds(0)) >> [] {});
    return result;
  }

  messages::store_actor store;
  messages::upload_gate_actor gate;
};

errc code_of(const expected<messages::object_ref>& x) {
  return x ? errc::internal : messages::errc_of(x.error());
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(upload_gate_tests, fixture)

CAF_TEST(only a job waiting for its upload admits one) {
  auto r = admit("uploads", "uploads/AWAITING_UPLOAD/clip.mp4");
  CAF_REQUIRE(r);
  CAF_CHECK(r->version.empty()); // store it
  // A job with its upload names it: only an identical retry may pass.
  for (auto s : {"SUBMITTED", "PROCESSING", "SUCCEEDED"}) {
    CAF_MESSAGE("status " << s);
    r = admit("uploads", std::string{"uploads/"} + s + "/clip.mp4");
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->version, "v1");
    CAF_CHECK_EQUAL(r->etag, "etag1");
    CAF_CHECK_EQUAL(r->size, 10u);
  }
  // Past waiting and without an upload: nothing passes.
  for (auto s : {"FAILED", "CANCELLED", "EXPIRED"}) {
    CAF_MESSAGE("status " << s);
    r = admit("uploads", std::string{"uploads/"} + s + "/clip.mp4");
    CAF_CHECK_EQUAL(code_of(r), errc::conflict);
  }
}

CAF_TEST(keys no job expects are refused) {
  // Another file name of a waiting job, an unknown job, foreign places.
  CAF_CHECK_EQUAL(code_of(admit("uploads", "uploads/AWAITING_UPLOAD/x.mp4")),
                  errc::not_found);
  CAF_CHECK_EQUAL(code_of(admit("uploads", "uploads/nope/clip.mp4")),
                  errc::not_found);
  CAF_CHECK_EQUAL(code_of(admit("uploads", "elsewhere/x")), errc::not_found);
  CAF_CHECK_EQUAL(code_of(admit("other",
                                "uploads/AWAITING_UPLOAD/clip.mp4")),
                  errc::not_found);
}

CAF_TEST(outputs are admitted only while their job renders) {
  // A worker node stores a render's outputs by presigned PUT; a URL that
  // outlived the render stores nothing.
  auto& j = st().jobs["PROCESSING"];
  j.step = "render";
  auto r = admit("uploads", "outputs/PROCESSING/small.jpg", 5);
  CAF_REQUIRE(r);
  CAF_CHECK(r->version.empty()); // store it
  j.step = "probe";
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/PROCESSING/small.jpg", 5)),
                  errc::conflict);
  for (auto s : {"AWAITING_UPLOAD", "SUBMITTED", "SUCCEEDED", "FAILED",
                 "CANCELLED", "EXPIRED"}) {
    CAF_MESSAGE("status " << s);
    st().jobs[s].step = "render";
    CAF_CHECK_EQUAL(code_of(admit("uploads",
                                  std::string{"outputs/"} + s + "/small.jpg",
                                  5)),
                    errc::conflict);
  }
  // Only by a lease's own URL.
  j.step = "render";
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/PROCESSING/small.jpg")),
                  errc::forbidden);
  // Not a job, not a plain key, not our bucket.
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/nope/small.jpg", 5)),
                  errc::not_found);
  j.step = "render";
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/PROCESSING/a/b.jpg", 5)),
                  errc::not_found);
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/PROCESSING/..", 5)),
                  errc::not_found);
  CAF_CHECK_EQUAL(code_of(admit("other", "outputs/PROCESSING/small.jpg", 5)),
                  errc::not_found);
}

CAF_TEST(an output is admitted only under the current render lease) {
  // The real dispatcher holds lease 5 of the job's render on a worker.
  auto disp = sys.spawn(actors::dispatcher, actors::dispatcher_config{});
  auto w = sys.spawn(testing::fake_worker);
  messages::worker_info info;
  info.name = "w1";
  info.node = "local";
  info.kinds = {task_kind::render};
  info.slots = 1;
  self->send(disp, atoms::join_v, messages::worker_actor{w}, info);
  consume_messages();
  self->receive([](bool) {}, after(std::chrono::seconds(0)) >> [] {});
  messages::task t;
  t.job_id = "PROCESSING";
  t.kind = task_kind::render;
  t.lease_id = 5;
  t.timeout_ms = 60000;
  self->send(disp, atoms::submit_v, t);
  consume_messages();
  actors::upload_gate_config cfg;
  cfg.bucket = "uploads";
  cfg.dispatcher = disp;
  auto plain = gate;
  gate = sys.spawn(actors::upload_gate, store, cfg);
  st().jobs["PROCESSING"].step = "render";
  CAF_CHECK(admit("uploads", "outputs/PROCESSING/small.jpg", 5));
  // A node whose lease was handed on keeps URLs for a lease that is over.
  CAF_CHECK_EQUAL(code_of(admit("uploads", "outputs/PROCESSING/small.jpg",
                                6)),
                  errc::conflict);
  for (auto hdl : {actor_cast<actor>(gate), actor_cast<actor>(disp),
                   actor_cast<actor>(w)})
    anon_send_exit(hdl, exit_reason::user_shutdown);
  gate = plain;
  consume_messages();
}

CAF_TEST(a store that does not answer is not an admission) {
  anon_send_exit(store, exit_reason::kill);
  consume_messages();
  auto r = admit("uploads", "uploads/AWAITING_UPLOAD/clip.mp4");
  CAF_CHECK(!r);
}

CAF_TEST_FIXTURE_SCOPE_END()
