// vf/adapters/media/confined_input.cpp
//
// The read and seek callbacks mirror FFmpeg 5.1's file protocol (file_read,
// file_seek, FIFOs streamed) and the AVIOContext has the buffer size
// ffio_fdopen would give it, so that legitimate media parse exactly as they
// did through "file:" URLs (tests/adapters/media.test.cpp compares with the
// ffprobe CLI byte for byte).

#include "vf/adapters/media/confined_input.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

extern "C" {
#include <libavutil/mem.h>
}

namespace vf::adapters::media {

namespace {

// Every entry is a demuxer that reads its media from its own bytes only.
// Left out on purpose: hls, dash, webm_dash_manifest (manifests), concat
// (also ffconcat), image2 and every *_pipe (image sequences / still
// pictures: three of those are read, for image assets only, from
// `still_names`), tee, data, subfile, and the raw elementary streams and exotic
// formats nobody uploads as a video (each demuxer is attack surface).
constexpr std::array<std::string_view, 13> accepted_names{
  "mov,mp4,m4a,3gp,3g2,mj2", // MP4, MOV, M4A, 3GP
  "matroska,webm",
  "avi",
  "flv",
  "mpegts",
  "mpeg", // MPEG program stream (.mpg, .vob)
  "ogg",
  "wav",
  "aiff",
  "mp3",
  "aac", // ADTS
  "flac",
  "asf", // WMV, WMA
};

constexpr const char* whitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,"
                                  "avi,flv,mpegts,mpeg,ogg,wav,aiff,mp3,aac,"
                                  "flac,asf";

// One picture each, read from the stream itself (img2dec's pipe demuxers).
constexpr std::array<std::string_view, 3> still_names{"png_pipe", "jpeg_pipe",
                                                      "webp_pipe"};
constexpr const char* still_whitelist = "png_pipe,jpeg_pipe,webp_pipe";

// ffio_fdopen's buffer for a protocol without max_packet_size.
constexpr int buffer_size = 32768;

// How long one poll() on a FIFO waits before the interrupt callback is
// asked again: a read never blocks past a deadline by more than this.
constexpr int fifo_poll_ms = 50;

int refuse_nested_open(AVFormatContext* s, AVIOContext**, const char*, int,
                       AVDictionary**);

/// A neutral URL with the file's extension, if it has a plain one: format
/// probing gives extensions weight, so dropping it could change results.
std::string synthetic_url(const std::string& path) {
  std::string url = "confined-input";
  auto slash = path.find_last_of('/');
  auto base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = base.find_last_of('.');
  if (dot == std::string::npos || dot + 1 == base.size())
    return url;
  auto ext = base.substr(dot + 1);
  if (ext.size() > 8)
    return url;
  for (char c : ext)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')))
      return url;
  return url + '.' + ext;
}

} // namespace

struct confined_input::source {
  int fd = -1;
  bool streamed = false;
  AVIOInterruptCB interrupt{nullptr, nullptr};
  bool nested_open_refused = false;

  ~source() {
    if (fd >= 0)
      ::close(fd);
  }

  bool interrupted() const {
    return interrupt.callback != nullptr
           && interrupt.callback(interrupt.opaque) != 0;
  }

  static int read(void* opaque, uint8_t* buf, int size) {
    auto* src = static_cast<source*>(opaque);
    for (;;) {
      if (src->interrupted())
        return AVERROR_EXIT;
      if (src->streamed) {
        // A FIFO may stay silent: wait in slices, asking the callback.
        pollfd pfd{src->fd, POLLIN, 0};
        int ready = ::poll(&pfd, 1, fifo_poll_ms);
        if (ready == 0 || (ready < 0 && errno == EINTR))
          continue;
        if (ready < 0)
          return AVERROR(errno);
      }
      auto n = ::read(src->fd, buf, static_cast<size_t>(size));
      if (n > 0)
        return static_cast<int>(n);
      if (n == 0)
        return AVERROR_EOF;
      if (errno == EINTR)
        continue;
      return AVERROR(errno);
    }
  }

  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* src = static_cast<source*>(opaque);
    if (whence == AVSEEK_SIZE) {
      struct stat info {};
      if (::fstat(src->fd, &info) != 0)
        return AVERROR(errno);
      return S_ISFIFO(info.st_mode) ? 0 : static_cast<int64_t>(info.st_size);
    }
    if (src->streamed)
      return AVERROR(ESPIPE);
    auto pos
      = ::lseek(src->fd, static_cast<off_t>(offset), whence & ~AVSEEK_FORCE);
    return pos < 0 ? AVERROR(errno) : static_cast<int64_t>(pos);
  }
};

namespace {

int refuse_nested_open(AVFormatContext* s, AVIOContext**, const char*, int,
                       AVDictionary**) {
  if (s != nullptr && s->opaque != nullptr)
    static_cast<confined_input::source*>(s->opaque)->nested_open_refused = true;
  return confined_input::nested_open_error;
}

} // namespace

const char* confined_formats() noexcept {
  return whitelist;
}

bool confined_input::nested_open_refused() const noexcept {
  return src_ != nullptr && src_->nested_open_refused;
}

bool is_confined_format_name(std::string_view name) noexcept {
  for (auto accepted : accepted_names)
    if (accepted == name)
      return true;
  return false;
}

bool is_confined_format(const AVInputFormat* fmt) noexcept {
  return fmt != nullptr && fmt->name != nullptr
         && is_confined_format_name(fmt->name);
}

const char* still_image_formats() noexcept {
  return still_whitelist;
}

bool is_allowed_format(const AVInputFormat* fmt, media_kind kind) noexcept {
  if (kind == media_kind::av)
    return is_confined_format(fmt);
  if (fmt == nullptr || fmt->name == nullptr)
    return false;
  for (auto accepted : still_names)
    if (accepted == fmt->name)
      return true;
  return false;
}

confined_input::confined_input() = default;

confined_input::~confined_input() {
  // With a custom AVIOContext, closing the format context leaves pb to us.
  if (ctx_ != nullptr)
    avformat_close_input(&ctx_);
  if (pb_ != nullptr) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
  // src_ closes the file descriptor last.
}

namespace {

AVIOContext* make_avio(confined_input::source* src) {
  auto* buf = static_cast<unsigned char*>(av_malloc(buffer_size));
  if (buf == nullptr)
    return nullptr;
  auto* pb = avio_alloc_context(buf, buffer_size, 0, src,
                                &confined_input::source::read, nullptr,
                                &confined_input::source::seek);
  if (pb == nullptr) {
    av_free(buf);
    return nullptr;
  }
  if (src->streamed)
    pb->seekable = 0;
  return pb;
}

} // namespace

int confined_input::open(const std::string& path, AVIOInterruptCB interrupt,
                         AVDictionary** options, media_kind kind) {
  if (src_ != nullptr)
    return AVERROR(EALREADY);
  kind_ = kind;
  src_ = std::make_unique<source>();
  src_->interrupt = interrupt;
  src_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (src_->fd < 0)
    return AVERROR(errno);
  struct stat info {};
  if (::fstat(src_->fd, &info) != 0)
    return AVERROR(errno);
  if (S_ISDIR(info.st_mode))
    return AVERROR(EISDIR);
  src_->streamed = S_ISFIFO(info.st_mode);
  pb_ = make_avio(src_.get());
  if (pb_ == nullptr)
    return AVERROR(ENOMEM);
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr)
    return AVERROR(ENOMEM);
  raw->pb = pb_;
  // Set before the open, not by it: should avformat_open_input fail early,
  // it must not avio_close() a context it did not make.
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->interrupt_callback = interrupt;
  raw->io_open = refuse_nested_open;
  raw->opaque = src_.get();
  // Through options, so that no caller's entry can loosen them. "none" is
  // no protocol's name: every protocol is off the list.
  AVDictionary* local = nullptr;
  AVDictionary** opts = options != nullptr ? options : &local;
  int ret = av_dict_set(
    opts, "format_whitelist",
    kind == media_kind::av ? whitelist : still_whitelist, 0);
  if (ret >= 0)
    ret = av_dict_set(opts, "protocol_whitelist", "none", 0);
  if (ret < 0) {
    av_dict_free(&local);
    avformat_free_context(raw);
    return ret;
  }
  // A picture's extension would only make image2 (a name pattern reader,
  // never allowed) outbid jpeg_pipe on a `.jpg`: pictures are told by
  // their bytes alone.
  auto url = kind == media_kind::still_image ? std::string{"confined-input"}
                                             : synthetic_url(path);
  // On failure, avformat_open_input frees the context and nulls `raw`.
  ret = avformat_open_input(&raw, url.c_str(), nullptr, opts);
  av_dict_free(&local);
  if (ret < 0) {
    // libavformat refuses a format off the whitelist with EINVAL, and a
    // file no demuxer knows with INVALIDDATA: tell which it looked like.
    if (ret == AVERROR(EINVAL) || ret == AVERROR_INVALIDDATA) {
      if (auto* fmt = detect_format(url)) {
        detected_ = fmt->name;
        if (!is_allowed_format(fmt, kind_)) {
          refused_ = detected_;
          ret = AVERROR_INVALIDDATA;
        }
      }
    }
    return ret;
  }
  ctx_ = raw;
  // Belt and braces: never hand out a context of a demuxer we did not pick.
  if (!is_allowed_format(ctx_->iformat, kind_)) {
    detected_ = refused_ = ctx_->iformat->name;
    avformat_close_input(&ctx_);
    return AVERROR_INVALIDDATA;
  }
  return 0;
}

const AVInputFormat* confined_input::detect_format(const std::string& url) {
  // Only probe functions run here (they look at bytes, open nothing), on a
  // fresh AVIOContext from the start of the file.
  if (src_->streamed || ::lseek(src_->fd, 0, SEEK_SET) != 0)
    return nullptr;
  AVIOContext* pb = make_avio(src_.get());
  if (pb == nullptr)
    return nullptr;
  const AVInputFormat* fmt = nullptr;
  if (av_probe_input_buffer2(pb, &fmt, url.c_str(), nullptr, 0, 0) < 0)
    fmt = nullptr;
  av_freep(&pb->buffer);
  avio_context_free(&pb);
  return fmt;
}

} // namespace vf::adapters::media
