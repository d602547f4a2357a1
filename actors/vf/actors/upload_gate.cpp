// vf/actors/upload_gate.cpp

#include "vf/actors/upload_gate.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/upload_key.hpp"

#include <chrono>

namespace vf::actors {

using messages::errc;
using messages::make_error;

messages::upload_gate_actor::behavior_type
upload_gate(messages::upload_gate_actor::pointer self,
            messages::job_store_actor store, upload_gate_config cfg) {
  return {
    [=](atoms::admit, const std::string& bucket,
        const std::string& key) -> caf::result<messages::object_ref> {
      if (auto out = messages::job_id_of(key, cfg.outputs_prefix);
          out && bucket == cfg.bucket) {
        // A render on a worker node stores its outputs by presigned PUT:
        // only while the job renders, so a URL that outlived the job (it
        // finished, failed, was cancelled or deleted) stores nothing.
        auto rp = self->make_response_promise<messages::object_ref>();
        self->request(store, std::chrono::seconds{30}, atoms::get_v, *out)
          .then(
            [=](const messages::job& j) mutable {
              if (j.status == messages::job_status::processing
                  && j.step == to_string(messages::task_kind::render))
                rp.deliver(messages::object_ref{});
              else
                rp.deliver(make_error(errc::conflict,
                                      "job " + j.id + " is "
                                        + to_string(j.status)
                                        + " and is not making outputs"));
            },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      }
      auto id = messages::job_id_of(key, cfg.key_prefix);
      if (bucket != cfg.bucket || !id)
        return make_error(errc::not_found, "no job expects an upload to "
                                             + bucket + "/" + key);
      auto rp = self->make_response_promise<messages::object_ref>();
      self->request(store, std::chrono::seconds{30}, atoms::get_v, *id)
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
