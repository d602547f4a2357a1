// vf/actors/upload_gate.cpp

#include "vf/actors/upload_gate.hpp"

#include "vf/actors/request_timeouts.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/upload_key.hpp"

#include <chrono>
#include <memory>

namespace vf::actors {

using messages::errc;
using messages::make_error;

messages::upload_gate_actor::behavior_type
upload_gate(messages::upload_gate_actor::pointer self,
            messages::job_store_actor store, upload_gate_config cfg) {
  // Shared by the handlers; lives as long as the behavior.
  auto timeouts = std::make_shared<request_timeouts>();
  return {
    [=](atoms::admit, const std::string& bucket, const std::string& key,
        uint64_t lease) -> caf::result<messages::object_ref> {
      if (auto out = messages::job_id_of(key, cfg.outputs_prefix);
          out && bucket == cfg.bucket) {
        // A render on a worker node stores its outputs by presigned PUT:
        // only while the job renders under the lease the URL was signed
        // for, so a URL that outlived the job (finished, failed, cancelled,
        // deleted) or its lease (handed on to another node) stores nothing.
        if (lease == 0)
          return make_error(errc::forbidden,
                            "an output is stored only by a render lease's "
                            "own URL");
        auto rp = self->make_response_promise<messages::object_ref>();
        auto id = *out;
        ask(self, *timeouts, store, std::chrono::seconds{30}, atoms::get_v, id)
          .then(
            [=](const messages::job& j) mutable {
              if (j.status != messages::job_status::processing
                  || (j.step != to_string(messages::task_kind::render)
                      && j.step
                           != to_string(messages::task_kind::compose))) {
                rp.deliver(make_error(errc::conflict,
                                      "job " + j.id + " is "
                                        + to_string(j.status)
                                        + " and is not making outputs"));
                return;
              }
              if (!cfg.dispatcher) {
                rp.deliver(messages::object_ref{});
                return;
              }
              ask(self, *timeouts, cfg.dispatcher, std::chrono::seconds{30},
                  atoms::lease_of_v, id)
                .then(
                  [=](const std::vector<messages::task_progress>& xs) mutable {
                    for (auto& x : xs)
                      if (x.leased && x.lease_id == lease
                          && (x.kind == messages::task_kind::render
                              || x.kind == messages::task_kind::compose)) {
                        rp.deliver(messages::object_ref{});
                        return;
                      }
                    rp.deliver(make_error(errc::conflict,
                                          "the render lease of this URL is "
                                          "over (job "
                                            + id + ")"));
                  },
                  [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
            },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      }
      auto id = messages::job_id_of(key, cfg.key_prefix);
      if (bucket != cfg.bucket || !id)
        return make_error(errc::not_found, "no job expects an upload to "
                                             + bucket + "/" + key);
      auto rp = self->make_response_promise<messages::object_ref>();
      ask(self, *timeouts, store, std::chrono::seconds{30}, atoms::get_v, *id)
        .then(
          [=](const messages::job& j) mutable {
            if (j.key != key) {
              rp.deliver(make_error(errc::not_found,
                                    "no job expects an upload to " + key));
            } else if (j.status == messages::job_status::awaiting_upload) {
              rp.deliver(messages::object_ref{});
            } else if (!j.object.version.empty() && j.object.key == key) {
              // Only an identical retry of the upload it has may pass.
              rp.deliver(j.object);
            } else {
              rp.deliver(make_error(errc::conflict,
                                    "job " + j.id + " is "
                                      + to_string(j.status)
                                      + " and takes no more uploads"));
            }
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

} // namespace vf::actors
