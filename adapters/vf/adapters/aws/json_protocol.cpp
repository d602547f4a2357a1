// vf/adapters/aws/json_protocol.cpp

#include "vf/adapters/aws/json_protocol.hpp"

#include "vf/messages/errc.hpp"

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::make_error;
using nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

std::string json_answer::describe(const std::string& name,
                                  const std::string& action) const {
  return name + " " + action + ": HTTP " + std::to_string(status)
         + (type.empty() ? "" : " " + type)
         + (message.empty() ? "" : " (" + message + ")");
}

caf::expected<json_answer> json_call(const json_service& svc,
                                     const std::string& action,
                                     const json& body,
                                     std::chrono::milliseconds extra) {
  auto what = svc.name + " " + action + ": ";
  if (!svc.creds)
    return make_error(errc::provider_error, what + "no credential chain");
  auto creds = svc.creds->get(unix_now());
  if (!creds)
    return make_error(errc::storage_unavailable,
                      what + messages::message_of(creds.error()));
  auto req
    = signed_request(svc.endpoint, "POST", "/",
                     {{"Content-Type", "application/x-amz-json-1.0"},
                      {"X-Amz-Target", svc.target_prefix + "." + action}},
                     body.dump(-1, ' ', false, json::error_handler_t::replace),
                     creds->keys, unix_now());
  if (!req)
    return std::move(req.error());
  req->timeout = svc.timeout + extra;
  req->max_response = svc.max_response;
  auto resp = perform(*req);
  if (!resp)
    return make_error(messages::errc_of(resp.error()),
                      what + messages::message_of(resp.error()));
  json_answer out;
  out.status = resp->status;
  // An empty body is `{}` (SQS says nothing that way; so do emulators).
  out.doc = resp->body.empty() ? json::object()
                               : json::parse(resp->body, nullptr, false);
  if (resp->status != 200) {
    if (out.doc.is_object()) {
      if (auto i = out.doc.find("__type"); i != out.doc.end() && i->is_string())
        out.type
          = i->get<std::string>().substr(i->get<std::string>().rfind('#') + 1);
      for (auto key : {"message", "Message"})
        if (auto i = out.doc.find(key); i != out.doc.end() && i->is_string())
          out.message = i->get<std::string>().substr(0, 300);
    }
    if (!out.doc.is_object())
      out.doc = json::object();
    return out;
  }
  if (out.doc.is_discarded() || !out.doc.is_object())
    return make_error(errc::storage_unavailable,
                      what + "the answer is not a JSON object");
  return out;
}

} // namespace vf::adapters::aws
