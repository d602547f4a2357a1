// vf/adapters/objectstore/object_deleter.cpp

#include "vf/adapters/objectstore/object_deleter.hpp"

#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/messages/errc.hpp"

#include "caf/actor_system.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace vf::adapters::objectstore {

namespace {

// Removes `path`; a file already gone is fine.
caf::error remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT)
    return caf::none;
  auto err = errno;
  return messages::make_error(messages::errc::storage_unavailable,
                              "cannot delete " + path + ": "
                                + std::strerror(err));
}

messages::object_deleter_actor::behavior_type
object_deleter(messages::object_deleter_actor::pointer,
               std::string data_dir) {
  return {
    [data_dir](atoms::erase, const std::string& bucket,
               const std::string& key) -> caf::result<bool> {
      if (!is_valid_bucket_name(bucket) || check_key(key))
        return true;
      // The object first: metadata without an object reads as absent,
      // an object without metadata would not.
      if (auto err = remove_file(object_file(data_dir, bucket, key)))
        return err;
      if (auto err = remove_file(meta_file(data_dir, bucket, key)))
        return err;
      return true;
    },
  };
}

} // namespace

messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    std::string data_dir) {
  return sys.spawn<caf::detached>(object_deleter, std::move(data_dir));
}

} // namespace vf::adapters::objectstore
