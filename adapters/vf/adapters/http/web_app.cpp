// vf/adapters/http/web_app.cpp

#include "vf/adapters/http/web_app.hpp"

#include "vf/adapters/http/error_replies.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace vf::adapters::http {

namespace {

bool ends_with(std::string_view x, std::string_view suffix) {
  return x.size() >= suffix.size()
         && x.substr(x.size() - suffix.size()) == suffix;
}

bool safe_segment(std::string_view seg) {
  if (seg.empty() || seg.size() > 128 || seg.front() == '.')
    return false;
  return std::all_of(seg.begin(), seg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

} // namespace

std::string_view web_content_type(std::string_view name) {
  struct kind {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr kind kinds[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
  };
  for (auto& k : kinds)
    if (ends_with(name, k.ext))
      return k.type;
  return {};
}

std::string web_file_of(std::string_view path) {
  if (path == "/")
    return "index.html";
  if (path == "/admin" || path == "/admin/")
    return "admin.html";
  constexpr std::string_view prefix = "/web/";
  if (path.substr(0, prefix.size()) != prefix || path.size() > 512)
    return {};
  auto rest = path.substr(prefix.size());
  for (auto tail = rest;;) {
    auto slash = tail.find('/');
    if (!safe_segment(tail.substr(0, slash)))
      return {};
    if (slash == std::string_view::npos)
      break;
    tail.remove_prefix(slash + 1);
  }
  if (web_content_type(rest).empty())
    return {};
  return "static/" + std::string{rest};
}

std::string web_csp(const std::vector<std::string>& store_origins) {
  std::string store;
  for (auto& x : store_origins) {
    store += ' ';
    store += x;
  }
  return "default-src 'none'; script-src 'self'; style-src 'self'; "
         "img-src 'self' data: blob:"
         + store + "; media-src 'self' blob:" + store
         + "; connect-src 'self'" + store
         + "; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
           "form-action 'self'; frame-ancestors 'none'";
}

web_app::web_app(std::string dir, std::string csp)
  : dir_(std::move(dir)), csp_(std::move(csp)) {
  // Nothing else.
}

bool web_app::answer(std::string_view path, http_response& res) const {
  auto name = web_file_of(path);
  if (name.empty()) {
    if (path.substr(0, 5) != "/web/")
      return false;
    res = error_response(404, "not_found",
                         "no such file of the web app (names are letters, "
                         "digits, '.', '_' and '-')");
    return true;
  }
  bool found = false;
  std::string body;
  if (dir_.empty()) {
    auto& files = embedded_web_files();
    auto i = std::find_if(files.begin(), files.end(),
                          [&](const web_file& f) { return f.name == name; });
    if (i != files.end()) {
      body.assign(i->body.begin(), i->body.end());
      found = true;
    }
  } else {
    // Development only (`web.dir`): small files, read on the I/O thread.
    std::ifstream in{dir_ + "/" + name, std::ios::binary};
    if (in) {
      std::ostringstream buf;
      buf << in.rdbuf();
      body = std::move(buf).str();
      found = true;
    }
  }
  if (!found) {
    res = error_response(404, "not_found",
                         "the web app has no file '" + name + "'");
    return true;
  }
  res = http_response{};
  res.status = 200;
  res.body = std::move(body);
  res.content_type = web_content_type(name);
  res.csp = csp_;
  res.cache_control = "no-cache";
  return true;
}

} // namespace vf::adapters::http
