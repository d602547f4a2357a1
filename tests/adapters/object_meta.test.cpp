#define CAF_SUITE adapters.object_meta

#include "vf_test.hpp"

#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace os = vf::adapters::objectstore;
namespace fs = std::filesystem;

namespace {

struct fixture {
  fixture() {
    auto tmpl = (fs::temp_directory_path() / "vf-meta-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed");
    dir = tmpl;
    // Whether this file system keeps user attributes decides which of the
    // two places the store uses; each test says what it expects of both.
    auto probe = dir + "/probe";
    std::ofstream{probe} << "x";
    attributes = ::setxattr(probe.c_str(), "user.vf-probe", "1", 1, 0) == 0;
    fs::remove(probe);
    CAF_MESSAGE("user attributes on " << dir << ": " << attributes);
  }

  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  /// Commits `bytes` as an object the way the store does; returns the
  /// warning, which is empty unless the metadata could not be written.
  std::string commit(const std::string& object, const std::string& meta_path,
                     const std::string& bytes,
                     std::string content_type = "video/mp4") {
    os::upload_file f{dir + "/partial-" + std::to_string(++parts)};
    CAF_REQUIRE(!f.open());
    CAF_REQUIRE(!f.append(bytes.data(), bytes.size()));
    os::object_meta meta;
    meta.bucket = "b";
    meta.key = "k";
    meta.version = "0000000000000000000" + std::to_string(parts % 10);
    meta.content_type = std::move(content_type);
    std::string warning;
    CAF_REQUIRE(!f.commit(object, meta_path, meta, warning));
    return warning;
  }

  static uint64_t inode_of(const std::string& path) {
    struct stat st;
    CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_ino);
  }

  static bool has_attribute(const std::string& path) {
    return ::getxattr(path.c_str(), os::meta_attribute, nullptr, 0) >= 0;
  }

  std::string dir;
  bool attributes = false;
  int parts = 0;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(object_meta_tests, fixture)

CAF_TEST(a commit keeps the metadata on the file where it can) {
  auto object = dir + "/objects/b/uploads/j1/clip.mp4";
  auto meta_path = dir + "/meta/b/uploads/j1/clip.mp4";
  CAF_CHECK_EQUAL(commit(object, meta_path, "hello"), "");
  auto meta = os::find_object_meta(object, meta_path);
  CAF_REQUIRE(meta);
  CAF_CHECK_EQUAL(meta->etag, "5d41402abc4b2a76b9719d911017c592");
  CAF_CHECK_EQUAL(meta->size, 5u);
  CAF_CHECK_EQUAL(meta->content_type, "video/mp4");
  CAF_CHECK_EQUAL(meta->inode, inode_of(object));
  // Through an open file too (as GET reads it).
  auto fd = ::open(object.c_str(), O_RDONLY | O_CLOEXEC);
  CAF_REQUIRE_GREATER_OR_EQUAL(fd, 0);
  auto by_fd = os::find_object_meta(fd, meta_path);
  ::close(fd);
  CAF_REQUIRE(by_fd);
  CAF_CHECK_EQUAL(by_fd->etag, meta->etag);
  if (attributes) {
    // No metadata file, so no folder for it and no second rename.
    CAF_CHECK(has_attribute(object));
    CAF_CHECK(!fs::exists(meta_path));
    CAF_CHECK(!fs::exists(dir + "/meta"));
  } else {
    CAF_CHECK(fs::exists(meta_path));
  }
}

CAF_TEST(metadata too large for an attribute goes to a file) {
  auto object = dir + "/objects/big";
  auto meta_path = dir + "/meta/big";
  // Longer than any attribute the store writes (3 KiB): a metadata file.
  std::string type(5000, 't');
  CAF_CHECK_EQUAL(commit(object, meta_path, "bytes", type), "");
  CAF_CHECK(!has_attribute(object));
  CAF_REQUIRE(fs::exists(meta_path));
  auto meta = os::find_object_meta(object, meta_path);
  CAF_REQUIRE(meta);
  CAF_CHECK_EQUAL(meta->size, 5u);
  CAF_CHECK_EQUAL(meta->inode, inode_of(object));
  CAF_CHECK_EQUAL(meta->content_type, type);
}

CAF_TEST(the attribute wins over a metadata file of an earlier version) {
  if (!attributes) {
    CAF_MESSAGE("no user attributes here: only the metadata file is used");
    return;
  }
  auto object = dir + "/objects/k";
  auto meta_path = dir + "/meta/k";
  // An earlier version stored with a metadata file (older binary).
  fs::create_directories(dir + "/meta");
  os::object_meta old{"b", "k", "00000000000000000001",
                      "0123456789abcdef0123456789abcdef", 3, "", 1, ""};
  std::ofstream{meta_path} << os::to_json(old);
  CAF_CHECK_EQUAL(commit(object, meta_path, "new bytes"), "");
  auto meta = os::find_object_meta(object, meta_path);
  CAF_REQUIRE(meta);
  CAF_CHECK_EQUAL(meta->size, 9u);
  CAF_CHECK_NOT_EQUAL(meta->etag, old.etag);
  // And the shadowed file is gone.
  CAF_CHECK(!fs::exists(meta_path));
  // A file copied elsewhere with its attribute describes itself: the
  // inode read back is the copy's own.
  auto copy = dir + "/copy";
  fs::copy_file(object, copy);
  auto text = os::to_json(*meta);
  CAF_REQUIRE_EQUAL(::setxattr(copy.c_str(), os::meta_attribute, text.data(),
                               text.size(), 0),
                    0);
  auto copied = os::find_object_meta(copy, dir + "/meta/none");
  CAF_REQUIRE(copied);
  CAF_CHECK_EQUAL(copied->inode, inode_of(copy));
  CAF_CHECK_NOT_EQUAL(copied->inode, meta->inode);
}

CAF_TEST(a malformed or missing attribute falls back to the file) {
  auto object = dir + "/plain";
  std::ofstream{object} << "abc";
  auto meta_path = dir + "/plain.meta";
  // Neither: nothing.
  CAF_CHECK(!os::find_object_meta(object, meta_path));
  os::object_meta m{"b", "plain", "00000000000000000002",
                    "900150983cd24fb0d6963f7d28e17f72", 3, "",
                    inode_of(object), ""};
  std::ofstream{meta_path} << os::to_json(m);
  auto meta = os::find_object_meta(object, meta_path);
  CAF_REQUIRE(meta);
  CAF_CHECK_EQUAL(meta->etag, m.etag);
  if (attributes) {
    // A hostile or torn attribute is not trusted; the file answers.
    for (std::string bad : {std::string{"{"}, std::string{"[]"},
                            std::string{R"({"etag":"x"})"},
                            std::string(1000, '{')}) {
      CAF_REQUIRE_EQUAL(::setxattr(object.c_str(), os::meta_attribute,
                                   bad.data(), bad.size(), 0),
                        0);
      auto got = os::find_object_meta(object, meta_path);
      CAF_REQUIRE(got);
      CAF_CHECK_EQUAL(got->etag, m.etag);
    }
    // A longer valid attribute than the first read's buffer is read whole.
    auto longer = m;
    longer.content_type = std::string(2500, 'c');
    auto text = os::to_json(longer);
    CAF_REQUIRE_EQUAL(::setxattr(object.c_str(), os::meta_attribute,
                                 text.data(), text.size(), 0),
                      0);
    auto got = os::find_object_meta(object, meta_path);
    CAF_REQUIRE(got);
    CAF_CHECK_EQUAL(got->content_type.size(), 2500u);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
