// vf/runtime/dynamodb_edge.cpp

#include "vf/runtime/dynamodb_edge.hpp"

#include "vf/messages/errc.hpp"
#include "vf/runtime/aws_keys.hpp"

namespace vf::runtime {

using messages::errc;
using messages::make_error;

const std::vector<setting_spec>& dynamodb_specs() {
  static const std::vector<setting_spec> specs{
    {"store.backend", "--store-backend", "sqlite",
     "where jobs, results, claims, the attempt ledger and dead letters "
     "live: sqlite (a database in data.dir) or dynamodb (one table, "
     "dynamodb.*; keys from the AWS chain)"},
    {"dynamodb.table", "--dynamodb-table", "vidflow",
     "DynamoDB table of store.backend = dynamodb (Terraform makes it)"},
    {"dynamodb.endpoint", "--dynamodb-endpoint", "",
     "DynamoDB endpoint URL (empty: https://dynamodb.<region>.amazonaws.com)"},
    {"dynamodb.region", "--dynamodb-region", "",
     "region of the table (empty: store.region)"},
    {"dynamodb.create_table", "--dynamodb-create-table", "0",
     "1: create the table (on-demand capacity, its indexes) when it does "
     "not exist; 0: refuse to start without it"},
    {"dynamodb.workers", "--dynamodb-workers", "16",
     "DynamoDB requests in flight at once (1..256); one job's writes keep "
     "their order"},
  };
  return specs;
}

caf::expected<state_backend> state_backend_of(const settings& xs,
                                              const std::string& profile) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return make_error(errc::invalid_argument,
                      "setting " + key + " (" + xs.origin(key) + ") " + why);
  };
  state_backend out;
  auto& backend = xs.str("store.backend");
  if (backend == "sqlite")
    return out;
  if (backend != "dynamodb")
    return bad("store.backend",
               "is '" + backend.substr(0, 64) + "'; want sqlite or dynamodb");
  out.dynamodb = true;
  out.table.table = xs.str("dynamodb.table");
  out.table.endpoint = xs.str("dynamodb.endpoint");
  out.table.region = xs.str("dynamodb.region");
  if (out.table.region.empty())
    out.table.region = xs.str("store.region");
  if (auto err = adapters::aws::complete(out.table)) {
    auto why = messages::message_of(err);
    return bad(why.find("table name") != std::string::npos
                 ? "dynamodb.table"
                 : "dynamodb.endpoint",
               why);
  }
  auto create = xs.uint("dynamodb.create_table", 0, 1);
  if (!create)
    return std::move(create.error());
  out.create_table = *create == 1;
  auto workers = xs.uint("dynamodb.workers", 1, 256);
  if (!workers)
    return std::move(workers.error());
  out.workers = static_cast<uint32_t>(*workers);
  out.table.creds = aws_chain_of(profile);
  return out;
}

} // namespace vf::runtime
