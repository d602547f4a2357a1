// vf/adapters/common/http_framing.hpp
//
// Checks of an HTTP/1.1 request's raw header block that Beast (1.74) does
// not make, so that we and any proxy in front of us agree on where a request
// ends (request smuggling): unknown transfer-codings, duplicate or list
// Content-Length values, Transfer-Encoding with Content-Length, and obs-fold
// continuation lines. Shared by the JSON API and the built-in store, which
// both run it on the bytes before handing them to Beast's parser.

#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::common {

/// Why a header block was refused.
struct framing_error {
  /// 400 (ambiguous framing) or 501 (a transfer-coding we do not know).
  unsigned status = 400;
  /// Error code for the JSON API: `bad_request` (400) or
  /// `unsupported_transfer_coding` (501).
  std::string code;
  /// Sentence for the client.
  std::string detail;
};

/// Returns the size of the header block at the start of `data` (up to and
/// including the empty line), skipping leading empty lines as RFC 9112
/// allows; 0 if the block is not complete yet. Also stops (returns the
/// position after it) at a bare "\n\n", so that Beast's parser can reject
/// such a request at once instead of us waiting for more bytes.
size_t header_block_size(std::string_view data);

/// Checks the framing of a complete header block (see `header_block_size`).
std::optional<framing_error> check_framing(std::string_view block);

} // namespace vf::adapters::common
