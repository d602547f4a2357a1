// vf/adapters/media/probe.cpp
//
// Mirrors fftools/ffprobe.c of FFmpeg 5.1 (open_input_file, show_stream,
// show_format, the JSON writer's string validation) for the fields we keep,
// so that our metadata is interchangeable with what the reference design
// stored from the ffprobe CLI. tests/adapters/media.test.cpp compares both.

#include "vf/adapters/media/probe.hpp"

#include "vf/adapters/media/confined_input.hpp"
#include "vf/adapters/media/libav_util.hpp"
#include "vf/messages/errc.hpp"
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
}

namespace vf::adapters::media {

namespace {

using messages::errc;
using messages::make_error;
using json = nlohmann::ordered_json;

using namespace detail;

// -- ffprobe's value formatting ----------------------------------------------

// ffprobe's JSON writer validates keys and values of tags and the filename:
// each invalid UTF-8 sequence (as av_utf8_decode sees it, flags 0) becomes
// U+FFFD. Matching it exactly keeps odd tags identical to the CLI's output.
std::string validated(const char* src) {
  std::string out;
  auto* pos = reinterpret_cast<const uint8_t*>(src);
  auto* end = pos + std::strlen(src);
  while (pos < end) {
    auto* first = pos;
    int32_t code = 0;
    if (av_utf8_decode(&code, &pos, end, 0) < 0)
      out += "\xEF\xBF\xBD";
    else
      out.append(reinterpret_cast<const char*>(first),
                 static_cast<size_t>(pos - first));
  }
  return out;
}

// ffprobe's print_time: `ts * av_q2d(tb)` printed with "%f". to_chars gives
// the same digits without depending on the process locale.
std::string seconds_string(int64_t ts, AVRational time_base) {
  double value = static_cast<double>(ts) * av_q2d(time_base);
  std::array<char, 512> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value,
                           std::chars_format::fixed, 6);
  if (res.ec != std::errc{})
    return "nan";
  return std::string{buf.data(), res.ptr};
}

// ffprobe's print_q.
std::string rational_string(AVRational q) {
  return std::to_string(q.num) + '/' + std::to_string(q.den);
}

// ffprobe's show_tags: absent when the dictionary is, an object otherwise.
void add_tags(json& obj, const AVDictionary* dict) {
  if (dict == nullptr)
    return;
  auto tags = json::object();
  const AVDictionaryEntry* entry = nullptr;
  while ((entry = av_dict_get(dict, "", entry, AV_DICT_IGNORE_SUFFIX)))
    tags[validated(entry->key)] = validated(entry->value);
  obj["tags"] = std::move(tags);
}

json stream_json(const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  json out = json::object();
  out["index"] = st->index;
  if (auto* desc = avcodec_descriptor_get(par->codec_id))
    out["codec_name"] = desc->name;
  if (auto* name = avcodec_profile_name(par->codec_id, par->profile))
    out["profile"] = name;
  else if (par->profile != FF_PROFILE_UNKNOWN)
    out["profile"] = std::to_string(par->profile);
  if (auto* type = av_get_media_type_string(par->codec_type))
    out["codec_type"] = type;
  switch (par->codec_type) {
    case AVMEDIA_TYPE_VIDEO:
      out["width"] = par->width;
      out["height"] = par->height;
      if (auto* fmt
          = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format)))
        out["pix_fmt"] = fmt;
      break;
    case AVMEDIA_TYPE_AUDIO:
      out["sample_rate"] = std::to_string(par->sample_rate);
      out["channels"] = par->ch_layout.nb_channels;
      break;
    case AVMEDIA_TYPE_SUBTITLE:
      // ffprobe prints a subtitle's size only when it is known.
      if (par->width != 0)
        out["width"] = par->width;
      if (par->height != 0)
        out["height"] = par->height;
      break;
    default:
      break;
  }
  out["r_frame_rate"] = rational_string(st->r_frame_rate);
  out["avg_frame_rate"] = rational_string(st->avg_frame_rate);
  if (st->duration != AV_NOPTS_VALUE)
    out["duration"] = seconds_string(st->duration, st->time_base);
  if (par->bit_rate > 0)
    out["bit_rate"] = std::to_string(par->bit_rate);
  add_tags(out, st->metadata);
  return out;
}

json format_json(AVFormatContext* ctx, const std::string& filename) {
  json out = json::object();
  out["filename"] = validated(filename.c_str());
  out["nb_streams"] = ctx->nb_streams;
  out["format_name"] = ctx->iformat->name;
  if (ctx->duration != AV_NOPTS_VALUE)
    out["duration"]
      = seconds_string(ctx->duration, AVRational{1, AV_TIME_BASE});
  int64_t size = ctx->pb != nullptr ? avio_size(ctx->pb) : -1;
  if (size >= 0)
    out["size"] = std::to_string(size);
  if (ctx->bit_rate > 0)
    out["bit_rate"] = std::to_string(ctx->bit_rate);
  add_tags(out, ctx->metadata);
  return out;
}

// -- ISO BMFF (MP4, MOV, M4A, 3GP) truncation ---------------------------------

// A file cut short keeps its first bytes. For ISO BMFF those are a box
// header, which lets us tell "cut off" from "never was media": libavformat
// answers AVERROR_INVALIDDATA for both when the moov box is missing.
class box_reader {
public:
  explicit box_reader(const std::string& path)
    : file_(std::fopen(path.c_str(), "rb")) {}

  box_reader(const box_reader&) = delete;
  box_reader& operator=(const box_reader&) = delete;

  ~box_reader() {
    if (file_ != nullptr)
      std::fclose(file_);
  }

  /// One top-level box header; `size == 0` means "up to the end of file".
  struct header {
    uint64_t size = 0;
    std::string type;
  };

  bool read_header(uint64_t offset, uint64_t file_size, header& out) {
    if (file_ == nullptr || offset + 8 > file_size
        || fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0)
      return false;
    std::array<unsigned char, 16> buf{};
    if (std::fread(buf.data(), 1, 8, file_) != 8)
      return false;
    uint64_t size = read_be(buf.data(), 4);
    out.type.assign(reinterpret_cast<const char*>(buf.data()) + 4, 4);
    if (size == 1) {
      // 64-bit "largesize" follows the type.
      if (offset + 16 > file_size
          || std::fread(buf.data() + 8, 1, 8, file_) != 8)
        return false;
      size = read_be(buf.data() + 8, 8);
    }
    out.size = size;
    return true;
  }

private:
  static uint64_t read_be(const unsigned char* ptr, int len) {
    uint64_t result = 0;
    for (int i = 0; i < len; ++i)
      result = (result << 8) | ptr[i];
    return result;
  }

  std::FILE* file_;
};

/// Returns whether the file starts like an MP4 (an `ftyp` box).
bool starts_with_ftyp(const std::string& path, uint64_t file_size) {
  box_reader reader{path};
  box_reader::header hdr;
  return reader.read_header(0, file_size, hdr) && hdr.type == "ftyp"
         && (hdr.size == 0 || hdr.size >= 8);
}

/// Returns a description of the first top-level box that claims more bytes
/// than the file holds, or an empty string. Only box types a writer produces
/// count: trailing junk that happens to parse as a header does not.
std::string box_past_end(const std::string& path, uint64_t file_size) {
  static constexpr std::array<const char*, 14> known{
    "ftyp", "moov", "mdat", "moof", "mfra", "free", "skip",
    "wide", "udta", "meta", "uuid", "sidx", "styp", "pdin"};
  box_reader reader{path};
  uint64_t offset = 0;
  box_reader::header hdr;
  // A file has few top-level boxes; the bound only guards against loops on
  // pathological input (many tiny boxes).
  for (int i = 0; i < 4096 && reader.read_header(offset, file_size, hdr); ++i) {
    if (hdr.size == 0 || hdr.size < 8)
      return {}; // "to end of file", or malformed: libavformat's call
    bool is_known = false;
    for (auto* type : known)
      is_known = is_known || hdr.type == type;
    if (!is_known)
      return {};
    if (hdr.size > file_size - offset)
      return "the '" + hdr.type + "' box at byte " + std::to_string(offset)
             + " needs " + std::to_string(hdr.size) + " bytes but the file "
             + "ends after " + std::to_string(file_size - offset);
    offset += hdr.size;
  }
  return {};
}

// -- error mapping ------------------------------------------------------------

caf::error interrupted(const interrupt_state& st, const std::string& name,
                       std::chrono::milliseconds timeout) {
  if (st.cancelled)
    return make_error(errc::cancelled, "probe of " + name + " cancelled");
  return make_error(errc::timeout, "probe of " + name + " exceeded its "
                                     + std::to_string(timeout.count())
                                     + " ms deadline");
}

/// Returns whether every byte of `path` can be read (no I/O error).
bool file_reads_back(const std::string& path) {
  auto* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return false;
  std::array<char, 65536> buf;
  while (std::fread(buf.data(), 1, buf.size(), f) == buf.size()) {
    // keep reading
  }
  bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

caf::error open_failed(int code, const confined_input& in,
                       const interrupt_state& st, const std::string& path,
                       const std::string& name, uint64_t file_size,
                       std::chrono::milliseconds timeout, bool still_image) {
  // An aborted read surfaces as EXIT, EOF or INVALIDDATA, depending on
  // where the demuxer was: our own flags are the only reliable signal.
  if (st.cancelled || st.timed_out || code == AVERROR_EXIT)
    return interrupted(st, name, timeout);
  if (still_image && (!in.refused_format().empty()
                      || code == AVERROR_INVALIDDATA))
    return make_error(errc::bad_media,
                      "not a picture: " + name + " is "
                        + (in.detected_format().empty()
                             ? std::string{"in no format we know"}
                             : "in the '" + in.detected_format() + "' format")
                        + "; an image asset must be one PNG, JPEG or WebP "
                          "picture");
  if (!in.refused_format().empty())
    // A playlist, concat script, image or text: its demuxer would read
    // other files (or is no video container); we never run it.
    return make_error(errc::bad_media,
                      "not a media file: " + name + " is in the '"
                        + in.refused_format()
                        + "' format, which is not read: only single-file "
                          "audio/video containers are accepted");
  if (in.nested_open_refused())
    return make_error(errc::bad_media,
                      "not a media file: " + name
                        + " refers to data in other files, which are never "
                          "read");
  auto reason = av_error_string(code);
  if (code == AVERROR(ENOENT) || code == AVERROR(ENOTDIR))
    return make_error(errc::not_found, "no such file: " + name);
  if (code == AVERROR(EIO) && file_reads_back(path))
    // Some demuxers answer EIO for malformed data (found by fuzzing): when
    // the file itself reads back fine, the content is to blame, and a retry
    // would fail the same way.
    return make_error(errc::bad_media,
                      "not a media file: " + name + " (" + reason
                        + " while parsing readable data)");
  if (code == AVERROR(EIO) || code == AVERROR(EACCES) || code == AVERROR(EPERM)
      || code == AVERROR(EMFILE) || code == AVERROR(ENFILE))
    return make_error(errc::storage_unavailable,
                      "cannot read " + name + ": " + reason);
  if (code == AVERROR(ENOMEM))
    // On open, ENOMEM comes from sizes the file declares (a WAV header
    // asking for gigabytes, found by fuzzing), not from a full machine.
    return make_error(errc::bad_media,
                      "not a media file: " + name + " declares sizes that "
                        + "cannot be allocated (" + reason + ")");
  if ((code == AVERROR_INVALIDDATA || code == AVERROR_EOF)
      && starts_with_ftyp(path, file_size))
    return make_error(errc::truncated,
                      "truncated media: " + name
                        + " is an MP4/QuickTime file whose index (moov box) "
                          "is missing or cut short");
  if (code == AVERROR_INVALIDDATA && in.detected_format().empty())
    return make_error(errc::bad_media,
                      "not a media file: " + name
                        + " (no supported audio/video container recognised)");
  return make_error(errc::bad_media,
                    "not a media file: " + name + " (" + reason + ")");
}

// Single-image demuxers ("png_pipe", "image2", ...) find one "video" stream
// in any picture; a picture is not a video to ingest.
bool is_still_image(const AVInputFormat* fmt) {
  std::string name = fmt->name;
  static constexpr std::string_view suffix = "_pipe";
  // The text-art demuxers (ANSI, BIN, XBIN, iCEDraw) are chosen by file
  // extension alone and turn any text file (`notes.txt`) into a "video".
  if (name == "tty" || name == "bin" || name == "xbin" || name == "idf")
    return true;
  return name == "image2"
         || (name.size() > suffix.size()
             && name.compare(name.size() - suffix.size(), suffix.size(), suffix)
                  == 0);
}

caf::error no_decoder(unsigned index, const AVCodecParameters* par,
                      const std::string& name) {
  auto* desc = avcodec_descriptor_get(par->codec_id);
  std::string codec = desc != nullptr ? desc->name : "unknown";
  if (par->codec_tag != 0) {
    std::array<char, AV_FOURCC_MAX_STRING_SIZE> tag{};
    av_fourcc_make_string(tag.data(), par->codec_tag);
    codec += ", tag ";
    codec += tag.data();
  }
  return make_error(errc::unsupported_codec,
                    "unsupported codec: no decoder for video stream "
                      + std::to_string(index) + " (" + codec + ") of " + name);
}

// An image asset: one decodable picture of a size a composition can use.
caf::error check_picture(const AVFormatContext* ctx, const std::string& name) {
  if (ctx->nb_streams != 1
      || ctx->streams[0]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
    return make_error(errc::bad_media,
                      "not a picture: " + name + " holds no single image");
  const AVCodecParameters* par = ctx->streams[0]->codecpar;
  if (avcodec_find_decoder(par->codec_id) == nullptr)
    return no_decoder(0, par, name);
  // Decoded, a picture is width x height x up to 8 bytes in one allocation
  // (max_libav_alloc); anything past 8K is scaled down to 4K at most anyway.
  // (The decoder's max_pixels stops bigger ones before they are decoded.)
  if (par->width <= 0 || par->height <= 0 || par->width > 8192
      || par->height > 8192
      || int64_t{par->width} * par->height > max_picture_pixels)
    return make_error(errc::bad_media,
                      "not a picture we read: " + name + " is "
                        + std::to_string(par->width) + "x"
                        + std::to_string(par->height)
                        + " pixels; pictures up to 8192 pixels a side and "
                          "32 megapixels are read");
  return {};
}

// The job fails unless the file carries audio or video we can decode.
caf::error check_streams(const AVFormatContext* ctx, const std::string& name) {
  if (ctx->nb_streams == 0)
    return make_error(errc::bad_media,
                      "not a media file: " + name + " contains no streams");
  if (is_still_image(ctx->iformat))
    return make_error(errc::bad_media, "not a media file: " + name
                                         + " is a still image or text ("
                                         + ctx->iformat->name + ")");
  bool has_video = false;
  bool has_audio = false;
  bool has_audio_decoder = false;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* st = ctx->streams[i];
    const AVCodecParameters* par = st->codecpar;
    bool decodable = avcodec_find_decoder(par->codec_id) != nullptr;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO
        && (st->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0) {
      has_video = true;
      if (!decodable)
        return no_decoder(i, par, name);
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      has_audio = true;
      has_audio_decoder = has_audio_decoder || decodable;
    }
  }
  if (!has_video && !has_audio)
    return make_error(errc::bad_media,
                      "not a media file: " + name
                        + " contains neither a video nor an audio stream");
  if (!has_video && !has_audio_decoder)
    return make_error(errc::unsupported_codec,
                      "unsupported codec: no decoder for any audio stream of "
                        + name);
  return {};
}

} // namespace

caf::expected<std::string> probe_file_as(const std::string& path,
                                         const std::string& print_filename,
                                         std::chrono::milliseconds timeout,
                                         const std::atomic<bool>* cancel,
                                         bool still_image) {
  prepare_libav();
  const auto& name = print_filename;
  interrupt_state st;
  // A day is "no deadline" in practice and keeps now() + timeout in range.
  st.deadline
    = clock_type::now()
      + std::min(timeout, std::chrono::milliseconds{std::chrono::hours{24}});
  st.cancel = cancel;
  if (cancel != nullptr && cancel->load())
    return make_error(errc::cancelled, "probe of " + name + " cancelled");
  if (timeout.count() <= 0)
    return make_error(errc::timeout,
                      "probe of " + name + " started with no time left");
  // Cheap checks first: they give clearer errors than libavformat's.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    auto err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return make_error(errc::not_found, "no such file: " + name);
    return make_error(errc::storage_unavailable,
                      "cannot read " + name + ": "
                        + std::generic_category().message(err));
  }
  if (S_ISDIR(info.st_mode))
    return make_error(errc::bad_media,
                      "not a media file: " + name + " is a directory");
  auto file_size = static_cast<uint64_t>(info.st_size);
  if (S_ISREG(info.st_mode) && file_size == 0)
    return make_error(errc::bad_media,
                      "not a media file: " + name + " is empty");
  dictionary opts;
  // ffprobe's defaults (scan_all_pmts for MPEG-TS, 5 MB / 5 s of probing)
  // keep the output identical to the CLI's; they also bound the work per
  // file.
  for (auto [key, value] :
       {std::pair{"scan_all_pmts", "1"}, std::pair{"probesize", "5000000"},
        std::pair{"analyzeduration", "5000000"}}) {
    if (int ret = av_dict_set(&opts.ptr, key, value, 0); ret < 0)
      return make_error(errc::internal,
                        "probe of " + name + ": " + av_error_string(ret));
  }
  // Only the file's own bytes: a playlist, concat script or image pattern
  // inside an upload must never make us read another file or a URL.
  confined_input in;
  if (int ret = in.open(path, AVIOInterruptCB{on_interrupt, &st}, &opts.ptr,
                        still_image ? media_kind::still_image : media_kind::av);
      ret < 0)
    return open_failed(ret, in, st, path, name, file_size, timeout,
                       still_image);
  AVFormatContext* ctx = in.get();
  // A picture is decoded to find its size: the decoder refuses one over
  // the pixel budget before it allocates (ff_set_dimensions).
  std::vector<AVDictionary*> stream_opts;
  if (still_image)
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      AVDictionary* d = nullptr;
      av_dict_set_int(&d, "max_pixels", max_picture_pixels, 0);
      stream_opts.push_back(d);
    }
  int info_ret = avformat_find_stream_info(
    ctx, stream_opts.empty() ? nullptr : stream_opts.data());
  for (auto* d : stream_opts)
    av_dict_free(&d);
  if (info_ret < 0)
    return open_failed(info_ret, in, st, path, name, file_size, timeout,
                       still_image);
  // The demuxer may have stopped early on an interrupt and still succeed
  // with partial information: never report that as a result.
  if (st.cancelled || st.timed_out)
    return interrupted(st, name, timeout);
  if (auto err = still_image ? check_picture(ctx, name)
                             : check_streams(ctx, name))
    return err;
  if (S_ISREG(info.st_mode)
      && std::strcmp(ctx->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2") == 0) {
    // With the index up front ("faststart"), a cut-off file still opens;
    // ffprobe reports it as whole. Its media data is gone all the same.
    if (auto what = box_past_end(path, file_size); !what.empty())
      return make_error(errc::truncated,
                        "truncated media: " + name + ": " + what);
  }
  json doc = json::object();
  doc["streams"] = json::array();
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    doc["streams"].push_back(stream_json(ctx->streams[i]));
  doc["format"] = format_json(ctx, print_filename);
  // ffprobe's layout: 4-space indent, trailing newline. `replace` cannot
  // trigger after validated(); it only rules out an exception.
  return doc.dump(4, ' ', false, json::error_handler_t::replace) + '\n';
}

caf::expected<std::string> probe_file(const std::string& path,
                                      std::chrono::milliseconds timeout,
                                      const std::atomic<bool>* cancel) {
  return probe_file_as(path, path, timeout, cancel);
}

} // namespace vf::adapters::media
