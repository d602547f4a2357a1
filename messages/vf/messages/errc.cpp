// vf/messages/errc.cpp

#include "vf/messages/errc.hpp"

#include "caf/message.hpp"

#include <array>
#include <utility>

namespace vf::messages {

namespace {

constexpr std::array<std::pair<errc, const char*>, 24> names{{
  {errc::none, ""},
  {errc::not_found, "not_found"},
  {errc::invalid_argument, "invalid_argument"},
  {errc::duplicate, "duplicate"},
  {errc::conflict, "conflict"},
  {errc::unauthorized, "unauthorized"},
  {errc::forbidden, "forbidden"},
  {errc::payload_too_large, "payload_too_large"},
  {errc::storage_unavailable, "storage_unavailable"},
  {errc::timeout, "timeout"},
  {errc::bad_media, "bad_media"},
  {errc::unsupported_codec, "unsupported_codec"},
  {errc::truncated, "truncated"},
  {errc::provider_error, "provider_error"},
  {errc::throttled, "throttled"},
  {errc::cancelled, "cancelled"},
  {errc::worker_lost, "worker_lost"},
  {errc::internal, "internal"},
  {errc::quota_exceeded, "quota_exceeded"},
  {errc::storage_quota_exceeded, "storage_quota_exceeded"},
  {errc::expired, "expired"},
  {errc::encoder_failed, "encoder_failed"},
  {errc::no_worker, "no_worker"},
  {errc::intake_paused, "intake_paused"},
}};

} // namespace

std::string to_string(errc x) {
  for (auto& [code, name] : names)
    if (code == x)
      return name;
  return "internal";
}

errc errc_from_string(const std::string& x) {
  for (auto& [code, name] : names)
    if (x == name)
      return code;
  return errc::internal;
}

bool is_transient(errc x) {
  switch (x) {
    case errc::storage_unavailable:
    case errc::timeout:
    case errc::throttled:
    case errc::worker_lost:
    case errc::provider_error:
    case errc::encoder_failed:
      return true;
    default:
      return false;
  }
}

errc errc_of(const caf::error& err) {
  if (err.category() != errc_category)
    return errc::internal;
  return static_cast<errc>(err.code());
}

std::string message_of(const caf::error& err) {
  auto& ctx = err.context();
  if (err.category() == errc_category && ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  if (err.category() == errc_category)
    return to_string(static_cast<errc>(err.code()));
  return caf::to_string(err);
}

} // namespace vf::messages
