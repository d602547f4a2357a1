// vf/adapters/http/routes_cluster.cpp
//
// GET /cluster/nodes (admins only): the nodes and workers that joined.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"

namespace vf::adapters::http {

namespace {

void cluster_nodes(call& c) {
  // The admin console answers, as for `vidflow admin status`.
  auto& console = c.state().handles.admin;
  if (!console) {
    c.error(503, "storage_unavailable",
            "the cluster registry is not running on this node");
    return;
  }
  c.ask(console, atoms::nodes_v)
    .then([](reply& r, std::vector<messages::cluster_node>& xs) {
      r.send(200, cluster_nodes_json(xs));
    });
}

} // namespace

std::vector<route_entry> cluster_routes() {
  return {
    {http_method::get, "/cluster/nodes", access::admin, cluster_nodes},
  };
}

} // namespace vf::adapters::http
