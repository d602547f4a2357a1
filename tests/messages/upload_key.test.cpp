#define CAF_SUITE messages.upload_key

#include "vf/messages/upload_key.hpp"

#include "vf_test.hpp"

#include <string>

using vf::messages::job_id_of;
using vf::messages::make_upload_key;

CAF_TEST(an upload key is prefix then job id then filename) {
  CAF_CHECK_EQUAL(make_upload_key("uploads", "abc", "clip.mp4"),
                  std::string{"uploads/abc/clip.mp4"});
  CAF_CHECK_EQUAL(make_upload_key("raw/uploads", "abc", "clip one.mp4"),
                  std::string{"raw/uploads/abc/clip one.mp4"});
}

CAF_TEST(keys built round trip to their job id) {
  for (auto prefix : {"uploads", "raw/uploads", "u"})
    for (auto id : {"abc", "0b5c6f1e-7d4a-4c2b-9e1f-2a3b4c5d6e7f", "a.b",
                    "...", "-"})
      for (auto file : {"clip.mp4", "clip one.mp4", ".hidden", "a..b"}) {
        auto key = make_upload_key(prefix, id, file);
        CAF_REQUIRE(key);
        CAF_CHECK_EQUAL(job_id_of(*key, prefix), std::string{id});
        CAF_CHECK(!job_id_of(*key, "other"));
      }
}

CAF_TEST(job keys parse into job ids) {
  CAF_CHECK_EQUAL(job_id_of("uploads/abc/clip.mp4", "uploads"),
                  std::string{"abc"});
  CAF_CHECK(!job_id_of("uploads/abc/", "uploads"));
  CAF_CHECK(!job_id_of("uploads//clip.mp4", "uploads"));
  CAF_CHECK(!job_id_of("other/abc/clip.mp4", "uploads"));
  CAF_CHECK(!job_id_of("uploads/abc/x/clip.mp4", "uploads"));
  CAF_CHECK(!job_id_of("uploadsX/abc/clip.mp4", "uploads"));
}

CAF_TEST(hostile keys have no job id) {
  for (auto key : {"", "uploads", "uploads/", "uploads//", "uploads///",
                   "uploads/abc", "uploads/abc/", "/uploads/abc/clip.mp4",
                   "uploads//abc/clip.mp4", "uploads/abc//clip.mp4",
                   "uploads/abc/clip.mp4/", "uploads/../clip.mp4",
                   "uploads/./clip.mp4", "uploads/abc/..", "uploads/abc/.",
                   "uploads/../../etc/passwd", "uploads/abc/../x.mp4",
                   "other/abc/clip.mp4", "upload/abc/clip.mp4",
                   "UPLOADS/abc/clip.mp4", "uploadsX/abc/clip.mp4",
                   "x/uploads/abc/clip.mp4"}) {
    CAF_MESSAGE("key: '" << key << "'");
    CAF_CHECK(!job_id_of(key, "uploads"));
  }
  // A prefix must match whole segments, and there is no empty prefix.
  CAF_CHECK(!job_id_of("raw/uploads/abc/clip.mp4", "raw/up"));
  CAF_CHECK(!job_id_of("/abc/clip.mp4", ""));
  CAF_CHECK(!job_id_of("abc/clip.mp4", ""));
}

CAF_TEST(parts that would not parse make no key) {
  for (auto id : {"", ".", "..", "a/b", "/", "abc/"})
    CAF_CHECK(!make_upload_key("uploads", id, "clip.mp4"));
  for (auto file : {"", ".", "..", "a/b", "../x.mp4", "clip.mp4/"})
    CAF_CHECK(!make_upload_key("uploads", "abc", file));
  for (auto prefix : {"", "/", "uploads/", "/uploads"})
    CAF_CHECK(!make_upload_key(prefix, "abc", "clip.mp4"));
}
