#define CAF_SUITE adapters.list_objects

#include "vf_test.hpp"

#include "vf/adapters/objectstore/list_objects.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace os = vf::adapters::objectstore;
namespace fs = std::filesystem;

namespace {

struct fixture {
  fixture() {
    auto tmpl = (fs::temp_directory_path() / "vf-list-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed");
    dir = tmpl;
    for (auto key : {"uploads/j1/a.mp4", "uploads/j1/b.mp4",
                     "uploads/j2/c d.mp4", "uploads/j3/e+f.mp4",
                     "outputs/j1/small.jpg", "top.txt"})
      put(key, std::string(std::strlen(key), 'x'));
    // A file without readable metadata is listed without an ETag.
    fs::remove(os::meta_file(dir, "b", "top.txt"));
  }

  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void put(const std::string& key, const std::string& bytes) {
    auto path = os::object_file(dir, "b", key);
    fs::create_directories(fs::path{path}.parent_path());
    std::ofstream{path} << bytes;
    os::object_meta meta;
    meta.bucket = "b";
    meta.key = key;
    meta.etag = "etag-of-" + std::to_string(key.size());
    meta.size = bytes.size();
    auto mpath = os::meta_file(dir, "b", key);
    fs::create_directories(fs::path{mpath}.parent_path());
    std::ofstream{mpath} << os::to_json(meta);
  }

  os::list_request parse(const std::string& query) {
    os::list_request req;
    if (auto err = os::parse_list_request(query, req))
      CAF_FAIL("parse failed: " << err->message);
    return req;
  }

  std::vector<std::string> keys(const os::list_page& page) {
    std::vector<std::string> out;
    for (auto& x : page.objects)
      out.push_back(x.key);
    return out;
  }

  std::string dir;
};

using list = std::vector<std::string>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(list_objects_tests, fixture)

CAF_TEST(the query is read as S3 defines it) {
  auto req = parse("list-type=2&prefix=up%2Fx&delimiter=%2F&max-keys=5000"
                   "&start-after=a&encoding-type=url&fetch-owner=true");
  CAF_CHECK_EQUAL(req.prefix, std::string{"up/x"});
  CAF_CHECK_EQUAL(req.delimiter, std::string{"/"});
  CAF_CHECK_EQUAL(req.max_keys, os::max_list_keys);
  CAF_CHECK_EQUAL(req.start_after, std::string{"a"});
  CAF_CHECK(req.url_encoding);
  os::list_request bad;
  for (auto query : {"list-type=2&max-keys=ten", "list-type=2&max-keys=-1",
                     "list-type=2&encoding-type=base64",
                     "list-type=2&continuation-token=forged",
                     "list-type=2&continuation-token=k4",
                     "list-type=2&prefix=%zz"}) {
    auto err = os::parse_list_request(query, bad);
    if (!err)
      CAF_FAIL("accepted: " << query);
    CAF_CHECK_EQUAL(err->code, std::string{"InvalidArgument"});
  }
  for (auto query : {"list-type=1", "prefix=a"}) {
    auto err = os::parse_list_request(query, bad);
    if (!err)
      CAF_FAIL("accepted: " << query);
    CAF_CHECK_EQUAL(err->code, std::string{"NotImplemented"});
  }
}

CAF_TEST(keys come in byte order with sizes and etags) {
  auto page = os::list_bucket(dir, "b", parse("list-type=2"));
  CAF_CHECK_EQUAL(keys(page),
                  (list{"outputs/j1/small.jpg", "top.txt", "uploads/j1/a.mp4",
                        "uploads/j1/b.mp4", "uploads/j2/c d.mp4",
                        "uploads/j3/e+f.mp4"}));
  CAF_CHECK(page.next_token.empty());
  CAF_REQUIRE_EQUAL(page.objects.size(), 6u);
  CAF_CHECK_EQUAL(page.objects[2].size, 16u);
  CAF_CHECK_EQUAL(page.objects[2].etag, std::string{"etag-of-16"});
  CAF_CHECK(page.objects[1].etag.empty());
  auto none = os::list_bucket(dir, "nothing-here", parse("list-type=2"));
  CAF_CHECK(none.objects.empty());
}

CAF_TEST(prefix delimiter and pages by token) {
  auto req = parse("list-type=2&prefix=uploads%2F&delimiter=%2F");
  auto folders = os::list_bucket(dir, "b", req);
  CAF_CHECK(folders.objects.empty());
  CAF_CHECK_EQUAL(folders.common_prefixes,
                  (list{"uploads/j1/", "uploads/j2/", "uploads/j3/"}));
  // Pages of one: a common prefix counts as one entry, never repeats.
  req.max_keys = 1;
  list seen;
  for (int i = 0; i < 10; ++i) {
    auto page = os::list_bucket(dir, "b", req);
    for (auto& p : page.common_prefixes)
      seen.push_back(p);
    if (page.next_token.empty())
      break;
    req = parse("list-type=2&prefix=uploads%2F&delimiter=%2F&max-keys=1"
                "&continuation-token="
                + page.next_token);
  }
  CAF_CHECK_EQUAL(seen, (list{"uploads/j1/", "uploads/j2/", "uploads/j3/"}));
  // Objects, two a page.
  req = parse("list-type=2&prefix=uploads%2F&max-keys=2");
  list all;
  for (int i = 0; i < 10; ++i) {
    auto page = os::list_bucket(dir, "b", req);
    for (auto& k : keys(page))
      all.push_back(k);
    if (page.next_token.empty())
      break;
    req = parse("list-type=2&prefix=uploads%2F&max-keys=2&continuation-token="
                + page.next_token);
  }
  CAF_CHECK_EQUAL(all, (list{"uploads/j1/a.mp4", "uploads/j1/b.mp4",
                             "uploads/j2/c d.mp4", "uploads/j3/e+f.mp4"}));
  auto after = os::list_bucket(
    dir, "b", parse("list-type=2&prefix=uploads%2F&start-after=uploads%2Fj2"));
  CAF_CHECK_EQUAL(keys(after),
                  (list{"uploads/j2/c d.mp4", "uploads/j3/e+f.mp4"}));
}

CAF_TEST(prefixes never leave the bucket) {
  for (auto prefix : {"..%2F", "..%2F..%2F", "uploads%2F..%2F..%2F",
                      "%2Fetc%2F"}) {
    auto page = os::list_bucket(
      dir, "b", parse(std::string{"list-type=2&prefix="} + prefix));
    CAF_CHECK(page.objects.empty());
    CAF_CHECK(page.common_prefixes.empty());
  }
}

CAF_TEST(the xml escapes and url-encodes keys) {
  auto req = parse("list-type=2&prefix=uploads%2Fj2&encoding-type=url");
  auto page = os::list_bucket(dir, "b", req);
  auto xml = os::list_xml("b", req, page);
  CAF_CHECK(xml.find("<Key>uploads/j2/c%20d.mp4</Key>") != std::string::npos);
  CAF_CHECK(xml.find("<KeyCount>1</KeyCount>") != std::string::npos);
  CAF_CHECK(xml.find("<EncodingType>url</EncodingType>") != std::string::npos);
  CAF_CHECK(xml.find("<ETag>&quot;etag-of-18&quot;</ETag>")
            != std::string::npos);
  os::list_page odd;
  odd.objects.push_back({"a<b>&c", 1, 0, ""});
  auto plain = os::list_xml("b", parse("list-type=2"), odd);
  CAF_CHECK(plain.find("<Key>a&lt;b&gt;&amp;c</Key>") != std::string::npos);
  CAF_CHECK(plain.find("<IsTruncated>false</IsTruncated>")
            != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
