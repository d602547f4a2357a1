#define CAF_SUITE adapters.multipart

#include "vf_test.hpp"

#include "vf/adapters/objectstore/multipart.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace os = vf::adapters::objectstore;
namespace fs = std::filesystem;

namespace {

struct fixture {
  fixture() {
    auto tmpl = (fs::temp_directory_path() / "vf-mp-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed");
    dir = tmpl;
  }

  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  /// Stores part `n` of upload `id` the way the store does.
  void put_part(const std::string& id, uint32_t n, const std::string& bytes) {
    os::upload_file f{dir + "/tmp-" + std::to_string(n)};
    CAF_REQUIRE(!f.open());
    CAF_REQUIRE(!f.append(bytes.data(), bytes.size()));
    std::string warning;
    os::object_meta meta;
    CAF_REQUIRE(!f.commit(os::part_file(dir, id, n),
                          os::part_meta_file(dir, id, n), meta, warning));
    CAF_REQUIRE_EQUAL(warning, std::string{});
  }

  static uint64_t inode_of(const std::string& path) {
    struct stat st;
    CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_ino);
  }

  std::string dir;
};

using parts_list = std::vector<std::pair<uint32_t, std::string>>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(multipart_tests, fixture)

CAF_TEST(upload ids are random hex and nothing else passes) {
  auto a = os::new_upload_id();
  auto b = os::new_upload_id();
  CAF_CHECK(os::is_valid_upload_id(a));
  CAF_CHECK_NOT_EQUAL(a, b);
  for (auto bad : {"", "../../../../etc", "0123456789abcdef0123456789abcdeF",
                   "0123456789abcdef0123456789abcde",
                   "0123456789abcdef0123456789abcdef0"})
    CAF_CHECK(!os::is_valid_upload_id(bad));
  CAF_CHECK(!os::read_upload(dir, "../x"));
}

CAF_TEST(an upload keeps its record and parts until removed) {
  auto id = os::new_upload_id();
  CAF_CHECK(!os::read_upload(dir, id));
  CAF_REQUIRE(!os::create_upload(dir, id, {"uploads", "uploads/j1/a b.mp4",
                                           "video/mp4", 1234}));
  auto up = os::read_upload(dir, id);
  CAF_REQUIRE(up);
  CAF_CHECK_EQUAL(up->key, std::string{"uploads/j1/a b.mp4"});
  CAF_CHECK_EQUAL(up->content_type, std::string{"video/mp4"});
  CAF_CHECK_EQUAL(up->created_ms, 1234);
  put_part(id, 2, "bb");
  put_part(id, 1, std::string(10, 'a'));
  put_part(id, 2, "b"); // Uploaded again: replaces the first.
  auto parts = os::list_parts(dir, id);
  CAF_REQUIRE_EQUAL(parts.size(), 2u);
  CAF_CHECK_EQUAL(parts[0].number, 1u);
  CAF_CHECK_EQUAL(parts[0].size, 10u);
  CAF_CHECK_EQUAL(parts[0].etag,
                  std::string{"e09c80c42fda55f9d992e59ca6b3307d"});
  CAF_CHECK_EQUAL(parts[1].size, 1u);
  CAF_CHECK_GREATER(parts[1].modified_ms, 0);
  // A part without metadata, or whose metadata file describes another file
  // (a crash between the part's and the metadata's rename where the file
  // system keeps no attributes), is not listed.
  fs::remove(os::part_file(dir, id, 2));
  std::ofstream{os::part_file(dir, id, 2)} << "b";
  CAF_CHECK_EQUAL(os::list_parts(dir, id).size(), 1u);
  auto another_file = inode_of(os::part_file(dir, id, 1));
  os::object_meta other{"uploads", "k", "00000000000000000001",
                        "92eb5ffee6ae2fec3ad71c777531578f", 1, "",
                        another_file, ""};
  std::ofstream{os::part_meta_file(dir, id, 2)} << os::to_json(other);
  CAF_CHECK_EQUAL(os::list_parts(dir, id).size(), 1u);
  // The same file with its metadata is listed.
  other.inode = inode_of(os::part_file(dir, id, 2));
  std::ofstream{os::part_meta_file(dir, id, 2)} << os::to_json(other);
  CAF_CHECK_EQUAL(os::list_parts(dir, id).size(), 2u);
  // S3's ETag of the whole: md5 of the binary md5s, then the count.
  std::vector<os::part_info> two{{1, "e09c80c42fda55f9d992e59ca6b3307d", 10, 0},
                                 {2, "92eb5ffee6ae2fec3ad71c777531578f", 1, 0}};
  CAF_CHECK_EQUAL(os::multipart_etag(two),
                  std::string{"3192ca8a7eba2efb8c52f8e48729e5f1-2"});
  os::remove_upload(dir, id);
  CAF_CHECK(!os::read_upload(dir, id));
  CAF_CHECK(os::list_parts(dir, id).empty());
}

CAF_TEST(old uploads expire and new ones stay) {
  auto old = os::new_upload_id();
  auto fresh = os::new_upload_id();
  CAF_REQUIRE(!os::create_upload(dir, old, {"uploads", "k", "", 1000}));
  CAF_REQUIRE(!os::create_upload(dir, fresh, {"uploads", "k", "", 5000}));
  put_part(old, 1, "x");
  CAF_CHECK_EQUAL(os::expire_uploads(dir, 2000), 1u);
  CAF_CHECK(!os::read_upload(dir, old));
  CAF_CHECK(os::read_upload(dir, fresh));
  CAF_CHECK_EQUAL(os::expire_uploads(dir, 2000), 0u);
}

CAF_TEST(complete bodies parse as S3 and boto3 send them) {
  parts_list parts;
  auto xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Part><ETag>"aa"</ETag><PartNumber>1</PartNumber></Part>
<Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part>
</CompleteMultipartUpload>)";
  CAF_REQUIRE(!os::parse_complete_body(xml, parts));
  CAF_CHECK_EQUAL(parts, (parts_list{{1, "aa"}, {2, "bb"}}));
  for (auto bad :
       {"", "<x/>", "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a"
        "</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>"
        "a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>a"
        "</ETag></Part></CompleteMultipartUpload>"}) {
    auto err = os::parse_complete_body(bad, parts);
    CAF_CHECK(err);
  }
}

CAF_TEST(completion checks order etags and sizes) {
  std::vector<os::part_info> stored{{1, "a", 10, 0}, {2, "b", 10, 0},
                                    {3, "c", 1, 0}};
  std::vector<os::part_info> chosen;
  auto code = [&](parts_list asked) {
    auto err = os::check_complete(asked, stored, 10, chosen);
    return err ? err->code : std::string{};
  };
  CAF_CHECK_EQUAL(code({{1, "a"}, {2, "b"}, {3, "c"}}), std::string{});
  CAF_CHECK_EQUAL(chosen.size(), 3u);
  // A subset is fine, in order.
  CAF_CHECK_EQUAL(code({{1, "a"}, {3, "c"}}), std::string{});
  CAF_CHECK_EQUAL(code({{2, "b"}, {1, "a"}}), std::string{"InvalidPartOrder"});
  CAF_CHECK_EQUAL(code({{1, "a"}, {1, "a"}}), std::string{"InvalidPartOrder"});
  CAF_CHECK_EQUAL(code({{1, "x"}}), std::string{"InvalidPart"});
  CAF_CHECK_EQUAL(code({{4, "d"}}), std::string{"InvalidPart"});
  CAF_CHECK_EQUAL(code({{3, "c"}, {4, "d"}}), std::string{"InvalidPart"});
  // Only the last may be small.
  stored[1].size = 9;
  CAF_CHECK_EQUAL(code({{1, "a"}, {2, "b"}, {3, "c"}}),
                  std::string{"EntityTooSmall"});
  CAF_CHECK_EQUAL(code({{1, "a"}, {2, "b"}}), std::string{});
}

CAF_TEST(answers are the XML S3 sends) {
  auto x = os::initiate_xml("uploads", "a&b", "0123");
  CAF_CHECK(x.find("<Key>a&amp;b</Key><UploadId>0123</UploadId>")
            != std::string::npos);
  std::vector<os::part_info> parts{{1, "a", 5, 0}, {2, "b", 6, 0},
                                   {5, "c", 7, 0}};
  auto page = os::list_parts_xml("uploads", "k", "id", parts, 1, 1);
  CAF_CHECK(page.find("<PartNumber>2</PartNumber>") != std::string::npos);
  CAF_CHECK(page.find("<PartNumber>1</PartNumber>") == std::string::npos);
  CAF_CHECK(page.find("<IsTruncated>true</IsTruncated>") != std::string::npos);
  CAF_CHECK(page.find("<NextPartNumberMarker>2</NextPartNumberMarker>")
            != std::string::npos);
  auto all = os::list_parts_xml("uploads", "k", "id", parts, 0, 1000);
  CAF_CHECK(all.find("<IsTruncated>false</IsTruncated>") != std::string::npos);
  CAF_CHECK(all.find("<ETag>&quot;c&quot;</ETag><Size>7</Size>")
            != std::string::npos);
  auto done = os::complete_xml("/uploads/k", "uploads", "k", "e-2");
  CAF_CHECK(done.find("<ETag>&quot;e-2&quot;</ETag>") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
