// vf/messages/register_types.cpp

#include "vf/messages/register_types.hpp"

#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/type_ids.hpp"
#include "vf/messages/worker_actor.hpp"

namespace vf::messages {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::vf>();
  // Handles that travel inside messages (workers joining a dispatcher).
  cfg.add_message_type<worker_actor>("vf::messages::worker_actor");
  cfg.add_message_type<node_actor>("vf::messages::node_actor");
  cfg.add_message_type<admin_console_actor>(
    "vf::messages::admin_console_actor");
  cfg.add_message_type<intake_gate_actor>("vf::messages::intake_gate_actor");
  cfg.add_message_type<std::vector<incident_category>>(
    "std::vector<vf::incident_category>");
  cfg.add_message_type<std::vector<task_kind>>("std::vector<vf::task_kind>");
  // CAF 0.17.6: the add_error_category<T>(atom) overload does not compile.
  cfg.add_error_category(errc_category, [](uint8_t code, caf::atom_value,
                                           const caf::message& ctx) {
    auto str = "vidflow: " + to_string(static_cast<errc>(code));
    if (ctx.match_elements<std::string>())
      str += " (" + ctx.get_as<std::string>(0) + ")";
    return str;
  });
}

} // namespace vf::messages
