// vf/messages/object_event.hpp

#pragma once

#include "caf/meta/type_name.hpp"

#include "vf/messages/job.hpp"

#include <string>

namespace vf::messages {

/// An object store's announcement that an object version now exists. Event
/// sources (built-in store, MinIO webhook, Redis, SQS) all produce this.
struct object_event {
  /// Event name as the source said it, e.g. `s3:ObjectCreated:Put`.
  std::string name;
  /// Which source raised it: `builtin`, `minio`, `redis`, `sqs`.
  std::string source;
  object_ref object;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, object_event& x) {
  return f(caf::meta::type_name("object_event"), x.name, x.source, x.object);
}

} // namespace vf::messages
