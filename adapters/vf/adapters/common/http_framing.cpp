// vf/adapters/common/http_framing.cpp

#include "vf/adapters/common/http_framing.hpp"

#include "vf/adapters/common/text.hpp"

#include <cctype>

namespace vf::adapters::common {

namespace {

constexpr auto trim = trim_blanks;

// Malformed framing is a bad request like any other parse error; the
// detail says which rule was broken.
framing_error bad(std::string detail) {
  return {400, "bad_request", std::move(detail)};
}

} // namespace

size_t header_block_size(std::string_view data) {
  size_t start = 0;
  // Leading empty lines before the request line are ignored.
  while (start < data.size() && (data[start] == '\r' || data[start] == '\n'))
    ++start;
  if (start == data.size())
    return 0;
  auto crlf = data.find("\r\n\r\n", start);
  auto lf = data.find("\n\n", start);
  auto end = std::string_view::npos;
  if (crlf != std::string_view::npos)
    end = crlf + 4;
  if (lf != std::string_view::npos && (end == std::string_view::npos
                                       || lf + 2 < end))
    end = lf + 2;
  return end == std::string_view::npos ? 0 : end;
}

std::optional<framing_error> check_framing(std::string_view block) {
  while (!block.empty() && (block.front() == '\r' || block.front() == '\n'))
    block.remove_prefix(1);
  // Skip the request line.
  auto eol = block.find('\n');
  if (eol == std::string_view::npos)
    return std::nullopt;
  block.remove_prefix(eol + 1);
  size_t content_lengths = 0;
  bool transfer_encoding = false;
  // The codings of every Transfer-Encoding line, in order.
  std::string codings;
  while (!block.empty()) {
    eol = block.find('\n');
    auto line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size()
                                                      : eol + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      break;
    if (line.front() == ' ' || line.front() == '\t')
      return bad("header lines continued on the next line (obs-fold) are "
                 "not accepted; send each field on one line");
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue; // Beast's parser refuses it.
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (++content_lengths > 1)
        return bad("more than one Content-Length field; send exactly one");
      if (value.empty()
          || value.find_first_not_of("0123456789") != std::string_view::npos)
        return bad("Content-Length must be a single decimal number");
    } else if (iequals(name, "transfer-encoding")) {
      transfer_encoding = true;
      if (!codings.empty())
        codings += ',';
      codings.append(value.data(), value.size());
    }
  }
  if (transfer_encoding && content_lengths > 0)
    return bad("Transfer-Encoding and Content-Length together; send one");
  if (!transfer_encoding)
    return std::nullopt;
  // Only "chunked" is known, and it must come once, last.
  std::string_view rest = codings;
  size_t chunked = 0;
  bool chunked_last = false;
  bool any = false;
  while (!rest.empty() || !any) {
    auto comma = rest.find(',');
    auto token = trim(rest.substr(0, comma));
    rest.remove_prefix(comma == std::string_view::npos ? rest.size()
                                                       : comma + 1);
    any = true;
    if (token.empty()) {
      chunked_last = false;
      if (rest.empty())
        break;
      continue;
    }
    if (iequals(token, "chunked")) {
      ++chunked;
      chunked_last = true;
    } else {
      return framing_error{501, "unsupported_transfer_coding",
                           "transfer-coding '" + std::string{token}
                             + "' is not supported; only chunked is"};
    }
  }
  if (chunked != 1 || !chunked_last)
    return bad("Transfer-Encoding must be exactly 'chunked'");
  return std::nullopt;
}

} // namespace vf::adapters::common
