// vf/adapters/media/libav_util.hpp
//
// What the probe, the renderer and the compositor share of libav: owning
// pointers, the once-per-process setup, error text, and the interrupt
// callback that enforces deadlines and cancellation. Internal to the media
// adapter.

#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::media::detail {

using clock_type = std::chrono::steady_clock;

struct av_deleter {
  void operator()(AVCodecContext* p) const {
    avcodec_free_context(&p);
  }
  void operator()(AVFrame* p) const {
    av_frame_free(&p);
  }
  void operator()(AVPacket* p) const {
    av_packet_free(&p);
  }
  void operator()(AVFilterGraph* p) const {
    avfilter_graph_free(&p);
  }
  void operator()(SwsContext* p) const {
    sws_freeContext(p);
  }
  void operator()(AVFilterInOut* p) const {
    avfilter_inout_free(&p);
  }
};

template <class T>
using av_ptr = std::unique_ptr<T, av_deleter>;

/// An output AVFormatContext owns the AVIOContext we opened for it.
struct muxer_deleter {
  void operator()(AVFormatContext* p) const {
    if (p->oformat != nullptr && (p->oformat->flags & AVFMT_NOFILE) == 0)
      avio_closep(&p->pb);
    avformat_free_context(p);
  }
};

using muxer_ptr = std::unique_ptr<AVFormatContext, muxer_deleter>;

/// Frees an AVDictionary on every path out of a function.
struct dictionary {
  AVDictionary* ptr = nullptr;
  dictionary() = default;
  dictionary(const dictionary&) = delete;
  dictionary& operator=(const dictionary&) = delete;
  ~dictionary() {
    av_dict_free(&ptr);
  }
};

struct channel_layout {
  AVChannelLayout val{};
  channel_layout() = default;
  channel_layout(const channel_layout&) = delete;
  channel_layout& operator=(const channel_layout&) = delete;
  ~channel_layout() {
    av_channel_layout_uninit(&val);
  }
};

inline av_ptr<AVFrame> new_frame() {
  return av_ptr<AVFrame>{av_frame_alloc()};
}

inline av_ptr<AVPacket> new_packet() {
  return av_ptr<AVPacket>{av_packet_alloc()};
}

/// Once per process, before libav reads anything: quiet logs (libav logs to
/// stderr from every thread; a service reports failures as errors instead),
/// and a bound on any single allocation (see `max_libav_alloc`).
void prepare_libav();

std::string av_error_string(int code);

/// `secs` with two decimals, for messages.
std::string seconds_text(double secs);

/// What the interrupt callback needs; it also records why it fired,
/// because libavformat reports an interrupted read under many different
/// error codes.
struct interrupt_state {
  clock_type::time_point deadline;
  const std::atomic<bool>* cancel = nullptr;
  bool timed_out = false;
  bool cancelled = false;
};

/// libav's interrupt callback over an `interrupt_state`.
int on_interrupt(void* opaque);

/// Whether a libav error code means the disk (or the folder) failed us.
bool is_storage_error(int code);

/// Size of a file, 0 when it cannot be read.
uint64_t file_size(const std::string& path);

/// Reads the duration back from a file we wrote: the longest stream's,
/// edit lists applied, as the container's header states it. 0 when
/// unreadable.
double media_duration(const std::string& path, interrupt_state& st);

/// Removes the files a failed or cancelled call wrote.
struct written_files {
  std::vector<std::string> paths;
  bool keep = false;
  written_files() = default;
  written_files(const written_files&) = delete;
  written_files& operator=(const written_files&) = delete;
  ~written_files();
};

} // namespace vf::adapters::media::detail
