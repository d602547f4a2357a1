// vf/adapters/media/libav_util.cpp

#include "vf/adapters/media/libav_util.hpp"

#include <sys/stat.h>

#include "vf/adapters/media/confined_input.hpp"
#include "vf/adapters/media/probe.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

namespace vf::adapters::media::detail {

void prepare_libav() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    av_log_set_level(AV_LOG_QUIET);
    av_max_alloc(max_libav_alloc);
  });
}

std::string av_error_string(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> buf{};
  if (av_strerror(code, buf.data(), buf.size()) < 0)
    return "libav error " + std::to_string(code);
  return buf.data();
}

std::string seconds_text(double secs) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.2f", secs);
  return buf.data();
}

int on_interrupt(void* opaque) {
  auto* st = static_cast<interrupt_state*>(opaque);
  if (st->cancel != nullptr && st->cancel->load(std::memory_order_relaxed)) {
    st->cancelled = true;
    return 1;
  }
  if (clock_type::now() >= st->deadline) {
    st->timed_out = true;
    return 1;
  }
  return 0;
}

bool is_storage_error(int code) {
  return code == AVERROR(ENOSPC) || code == AVERROR(EIO)
         || code == AVERROR(EDQUOT) || code == AVERROR(EACCES)
         || code == AVERROR(EPERM) || code == AVERROR(EROFS)
         || code == AVERROR(ENOENT) || code == AVERROR(ENOTDIR)
         || code == AVERROR(EMFILE) || code == AVERROR(ENFILE)
         || code == AVERROR(EFBIG);
}

uint64_t file_size(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size)
                                          : 0;
}

double media_duration(const std::string& path, interrupt_state& st) {
  confined_input in;
  if (in.open(path, AVIOInterruptCB{on_interrupt, &st}) < 0)
    return 0;
  auto* ctx = in.get();
  double secs = 0;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    auto* stream = ctx->streams[i];
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
      secs = std::max(secs, static_cast<double>(stream->duration)
                              * av_q2d(stream->time_base));
  }
  if (secs == 0 && ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0)
    secs = static_cast<double>(ctx->duration) / AV_TIME_BASE;
  return secs;
}

written_files::~written_files() {
  if (!keep)
    for (auto& path : paths)
      std::remove(path.c_str());
}

} // namespace vf::adapters::media::detail
