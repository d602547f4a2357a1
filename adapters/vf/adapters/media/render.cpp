// vf/adapters/media/render.cpp
//
// One pass over the source: the demuxer (through confined_input) feeds one
// video decoder and, when renditions are made, one audio decoder. Decoded
// video goes into one filter graph (buffer -> split -> scale -> format ->
// buffersink per rendition), each sink into its own libx264 encoder and MP4
// muxer; decoded audio goes through one small graph (abuffer -> aformat ->
// abuffersink, which resamples without us touching libswresample) into one
// AAC encoder whose packets every muxer receives. Thumbnails are cut from a
// decoded frame (swscale to full-range 4:2:0, then the mjpeg encoder). When
// only thumbnails are asked for we seek instead of decoding everything.

#include "vf/adapters/media/render.hpp"

#include <sys/stat.h>

#include "vf/adapters/media/confined_input.hpp"
#include "vf/adapters/media/libav_util.hpp"
#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace vf::adapters::media {

namespace {

using messages::errc;
using messages::make_error;

// Limits on the source picture, checked before anything is allocated for
// it: a header may claim any size.
constexpr int max_side = 16384;
constexpr int64_t max_pixels = int64_t{1} << 27;

constexpr int64_t aac_bit_rate = 128000;
constexpr double progress_step = 0.5; // percent between two reports

using namespace detail;

// -- helpers ------------------------------------------------------------------

/// Fits `w` x `h` (display aspect `aspect`) inside the box, even sides.
std::pair<int, int> fit_in_box(double aspect, int box_w, int box_h) {
  double w = box_w;
  double h = box_h;
  if (aspect * box_h >= box_w)
    h = box_w / aspect;
  else
    w = box_h * aspect;
  auto even = [](double x, int limit) {
    int v = 2 * static_cast<int>(std::lround(x / 2));
    v = std::min(v, limit - (limit % 2));
    return std::max(v, 2);
  };
  return {even(w, box_w), even(h, box_h)};
}

// -- one rendition's encoder and muxer ----------------------------------------

struct rendition_out {
  size_t result_index = 0;
  std::string name;
  int height = 0;
  std::string tmp_path;
  std::string final_path;
  AVFilterContext* sink = nullptr; // owned by the graph
  av_ptr<AVCodecContext> enc;
  muxer_ptr mux;
  AVStream* video = nullptr;
  AVStream* audio = nullptr;
  int64_t last_pts = AV_NOPTS_VALUE;
};

// -- the renderer -------------------------------------------------------------

class renderer {
public:
  explicit renderer(const render_request& req) : req_(req) {}

  caf::expected<std::vector<rendered_output>> run();

private:
  // Setup.
  caf::error open_source();
  caf::error check_dimensions(int w, int h, const char* where);
  caf::error open_video_decoder();
  caf::error open_audio();
  caf::error setup_outputs(const AVFrame* first);
  caf::error build_video_graph(const AVFrame* first);
  caf::error open_rendition(rendition_out& out);
  caf::error build_audio_graph(const AVFrame* first);

  // The passes.
  caf::error full_pass();
  caf::error thumbnail_pass();
  caf::error on_video_frame(AVFrame* frame);
  caf::error on_audio_frame(AVFrame* frame);
  caf::error drain_video_sinks(bool flush);
  caf::error encode_video(rendition_out& out, AVFrame* frame);
  caf::error drain_audio_sink(bool flush);
  caf::error encode_audio(AVFrame* frame);
  caf::error write_audio_packet(AVPacket* pkt);
  caf::error write(rendition_out& out, AVPacket* pkt);
  caf::error finish_renditions();
  caf::error write_thumbnails();
  caf::error write_jpeg(const thumbnail_spec& spec, rendered_output& res,
                        const std::string& tmp);

  // Decoding.
  template <class OnFrame>
  caf::error decode(AVCodecContext* dec, AVPacket* pkt, AVStream* st,
                    const char* what, OnFrame&& on_frame);
  caf::error broken(const char* what, double at, int code);
  caf::error interrupted();
  caf::error check_interrupt();
  double seconds_of(const AVFrame* frame);
  void consider_thumbnail(const AVFrame* frame, double at);
  void report_progress(double at);

  const render_request& req_;
  // Declared first: destroyed last, after every handle on the files.
  written_files files_;
  std::vector<rendered_output> results_;
  interrupt_state st_;
  confined_input in_;
  AVFormatContext* ic_ = nullptr;
  AVStream* vst_ = nullptr;
  AVStream* ast_ = nullptr;
  int64_t v_offset_ = 0; // source start time, in the video stream's units
  int64_t a_offset_ = 0;
  double duration_ = 0; // of the source, seconds; 0 when unknown
  av_ptr<AVCodecContext> vdec_;
  av_ptr<AVCodecContext> adec_;
  av_ptr<AVCodecContext> aenc_;

  // Video graph and renditions.
  std::vector<rendition_out> renditions_;
  av_ptr<AVFilterGraph> vgraph_;
  AVFilterContext* vsrc_ = nullptr;
  int src_w_ = 0;
  int src_h_ = 0;
  int src_fmt_ = AV_PIX_FMT_NONE;
  bool outputs_ready_ = false;
  double last_video_at_ = 0;
  double frame_step_ = 0.04;

  // Audio graph.
  av_ptr<AVFilterGraph> agraph_;
  AVFilterContext* asrc_ = nullptr;
  AVFilterContext* asink_ = nullptr;
  int64_t next_audio_pts_ = AV_NOPTS_VALUE; // encoder time base
  std::deque<av_ptr<AVPacket>> pending_audio_;

  // Thumbnails.
  double thumb_at_ = 0;
  bool exact_thumbnails_ = true;
  av_ptr<AVFrame> thumb_frame_;
  bool thumb_done_ = false;

  double last_progress_ = -progress_step;
};

caf::error renderer::interrupted() {
  if (st_.cancelled)
    return make_error(errc::cancelled, "render cancelled");
  return make_error(errc::timeout, "render exceeded its "
                                     + std::to_string(req_.timeout.count())
                                     + " ms deadline");
}

caf::error renderer::check_interrupt() {
  if (on_interrupt(&st_) != 0)
    return interrupted();
  return {};
}

caf::error renderer::broken(const char* what, double at, int code) {
  if (st_.cancelled || st_.timed_out)
    return interrupted();
  return make_error(errc::bad_media, std::string{"bad media: the "} + what
                                       + " is broken at "
                                       + seconds_text(std::max(at, 0.0))
                                       + " s (" + av_error_string(code) + ")");
}

caf::error renderer::open_source() {
  struct stat info {};
  if (::stat(req_.input_path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return make_error(errc::not_found, "no such file: " + req_.input_path);
    return make_error(errc::storage_unavailable,
                      "cannot read " + req_.input_path + ": "
                        + std::generic_category().message(errno));
  }
  dictionary opts;
  av_dict_set(&opts.ptr, "scan_all_pmts", "1", 0);
  if (int ret = in_.open(req_.input_path, AVIOInterruptCB{on_interrupt, &st_},
                         &opts.ptr);
      ret < 0) {
    if (st_.cancelled || st_.timed_out || ret == AVERROR_EXIT)
      return interrupted();
    if (ret == AVERROR(ENOENT))
      return make_error(errc::not_found, "no such file: " + req_.input_path);
    if (!in_.refused_format().empty())
      return make_error(errc::bad_media, "not a media file: the '"
                                           + in_.refused_format()
                                           + "' format is not read");
    return make_error(errc::bad_media,
                      "not a media file: " + av_error_string(ret));
  }
  ic_ = in_.get();
  if (int ret = avformat_find_stream_info(ic_, nullptr); ret < 0) {
    if (st_.cancelled || st_.timed_out)
      return interrupted();
    return make_error(errc::bad_media,
                      "not a media file: " + av_error_string(ret));
  }
  if (st_.cancelled || st_.timed_out)
    return interrupted();
  for (unsigned i = 0; i < ic_->nb_streams; ++i) {
    auto* st = ic_->streams[i];
    auto type = st->codecpar->codec_type;
    if (type == AVMEDIA_TYPE_VIDEO && vst_ == nullptr
        && (st->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0)
      vst_ = st;
    else if (type == AVMEDIA_TYPE_AUDIO && ast_ == nullptr)
      ast_ = st;
  }
  // Prefer libavformat's choice when it has one.
  int best = av_find_best_stream(ic_, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (best >= 0
      && (ic_->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0)
    vst_ = ic_->streams[best];
  best = av_find_best_stream(ic_, AVMEDIA_TYPE_AUDIO, -1,
                             vst_ != nullptr ? vst_->index : -1, nullptr, 0);
  if (best >= 0)
    ast_ = ic_->streams[best];
  int64_t start = ic_->start_time != AV_NOPTS_VALUE ? ic_->start_time : 0;
  if (vst_ != nullptr)
    v_offset_ = av_rescale_q(start, AV_TIME_BASE_Q, vst_->time_base);
  if (ast_ != nullptr)
    a_offset_ = av_rescale_q(start, AV_TIME_BASE_Q, ast_->time_base);
  if (ic_->duration != AV_NOPTS_VALUE && ic_->duration > 0)
    duration_ = static_cast<double>(ic_->duration) / AV_TIME_BASE;
  else if (vst_ != nullptr && vst_->duration != AV_NOPTS_VALUE)
    duration_ = static_cast<double>(vst_->duration) * av_q2d(vst_->time_base);
  return {};
}

caf::error renderer::check_dimensions(int w, int h, const char* where) {
  if (w <= 0 || h <= 0 || w > max_side || h > max_side
      || int64_t{w} * h > max_pixels)
    return make_error(errc::bad_media,
                      std::string{"bad media: the video "} + where + " is "
                        + std::to_string(w) + "x" + std::to_string(h)
                        + " pixels (at most " + std::to_string(max_side)
                        + " per side and " + std::to_string(max_pixels)
                        + " in all)");
  return {};
}

caf::error renderer::open_video_decoder() {
  auto* par = vst_->codecpar;
  if (auto err = check_dimensions(par->width, par->height, "header"))
    return err;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (codec == nullptr) {
    auto* desc = avcodec_descriptor_get(par->codec_id);
    return make_error(errc::unsupported_codec,
                      std::string{"unsupported codec: no decoder for the "
                                  "video stream ("}
                        + (desc != nullptr ? desc->name : "unknown") + ")");
  }
  vdec_.reset(avcodec_alloc_context3(codec));
  if (vdec_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  if (int ret = avcodec_parameters_to_context(vdec_.get(), par); ret < 0)
    return make_error(errc::encoder_failed, "video decoder: " + av_error_string(ret));
  vdec_->pkt_timebase = vst_->time_base;
  // Report corruption instead of concealing it: a broken upload must fail.
  vdec_->err_recognition |= AV_EF_EXPLODE;
  // A keyframe-snapped thumbnail decodes one picture: frame threads would
  // only add their start-up and a few frames of delay. Anything longer
  // decodes on every core.
  vdec_->thread_count
    = req_.renditions.empty() && req_.keyframe_thumbnails ? 1 : 0;
  if (int ret = avcodec_open2(vdec_.get(), codec, nullptr); ret < 0)
    return make_error(errc::bad_media, "cannot decode the video stream: "
                                         + av_error_string(ret));
  AVRational rate = av_guess_frame_rate(ic_, vst_, nullptr);
  if (rate.num > 0 && rate.den > 0)
    frame_step_ = av_q2d(av_inv_q(rate));
  return {};
}

caf::error renderer::open_audio() {
  auto* par = ast_->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (codec == nullptr) {
    auto* desc = avcodec_descriptor_get(par->codec_id);
    return make_error(errc::unsupported_codec,
                      std::string{"unsupported codec: no decoder for the "
                                  "audio stream ("}
                        + (desc != nullptr ? desc->name : "unknown") + ")");
  }
  adec_.reset(avcodec_alloc_context3(codec));
  if (adec_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  if (int ret = avcodec_parameters_to_context(adec_.get(), par); ret < 0)
    return make_error(errc::encoder_failed, "audio decoder: " + av_error_string(ret));
  adec_->pkt_timebase = ast_->time_base;
  adec_->err_recognition |= AV_EF_EXPLODE;
  if (int ret = avcodec_open2(adec_.get(), codec, nullptr); ret < 0)
    return make_error(errc::bad_media, "cannot decode the audio stream: "
                                         + av_error_string(ret));
  if (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0)
    return make_error(errc::bad_media,
                      "bad media: the audio stream has no sample rate or "
                      "channel count");
  // The encoder's parameters are fixed now, so the muxers can be set up
  // before the first audio frame arrives; the audio graph converts to them.
  const AVCodec* aac = avcodec_find_encoder_by_name("aac");
  if (aac == nullptr)
    return make_error(errc::encoder_failed, "no AAC encoder in this libavcodec");
  aenc_.reset(avcodec_alloc_context3(aac));
  if (aenc_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  int rate = 48000;
  for (auto* r = aac->supported_samplerates; r != nullptr && *r != 0; ++r)
    if (*r == par->sample_rate)
      rate = par->sample_rate;
  aenc_->sample_rate = rate;
  aenc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
  av_channel_layout_default(&aenc_->ch_layout,
                            par->ch_layout.nb_channels == 1 ? 1 : 2);
  aenc_->bit_rate = aac_bit_rate;
  aenc_->time_base = AVRational{1, rate};
  // Every output is MP4, which wants the AudioSpecificConfig up front.
  aenc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (int ret = avcodec_open2(aenc_.get(), aac, nullptr); ret < 0)
    return make_error(errc::encoder_failed,
                      "cannot open the AAC encoder: " + av_error_string(ret));
  return {};
}

caf::error renderer::build_audio_graph(const AVFrame* first) {
  agraph_.reset(avfilter_graph_alloc());
  if (agraph_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  agraph_->nb_threads = 1;
  channel_layout in_layout;
  if (first->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
    av_channel_layout_copy(&in_layout.val, &first->ch_layout);
  else
    av_channel_layout_default(&in_layout.val, first->ch_layout.nb_channels);
  std::array<char, 128> layout_name{};
  av_channel_layout_describe(&in_layout.val, layout_name.data(),
                             layout_name.size());
  auto* fmt_name
    = av_get_sample_fmt_name(static_cast<AVSampleFormat>(first->format));
  if (fmt_name == nullptr || first->sample_rate <= 0)
    return make_error(errc::bad_media, "bad media: undecodable audio format");
  std::string src_args = "time_base=1/" + std::to_string(first->sample_rate)
                         + ":sample_rate=" + std::to_string(first->sample_rate)
                         + ":sample_fmt=" + fmt_name
                         + ":channel_layout=" + layout_name.data();
  std::array<char, 128> out_layout{};
  av_channel_layout_describe(&aenc_->ch_layout, out_layout.data(),
                             out_layout.size());
  std::string fmt_args
    = "sample_fmts=fltp:sample_rates=" + std::to_string(aenc_->sample_rate)
      + ":channel_layouts=" + out_layout.data();
  AVFilterContext* aformat = nullptr;
  int ret = avfilter_graph_create_filter(
    &asrc_, avfilter_get_by_name("abuffer"), "in", src_args.c_str(), nullptr,
    agraph_.get());
  if (ret >= 0)
    ret = avfilter_graph_create_filter(
      &aformat, avfilter_get_by_name("aformat"), "fmt", fmt_args.c_str(),
      nullptr, agraph_.get());
  if (ret >= 0)
    ret = avfilter_graph_create_filter(&asink_,
                                       avfilter_get_by_name("abuffersink"),
                                       "out", nullptr, nullptr, agraph_.get());
  if (ret >= 0)
    ret = avfilter_link(asrc_, 0, aformat, 0);
  if (ret >= 0)
    ret = avfilter_link(aformat, 0, asink_, 0);
  if (ret >= 0)
    ret = avfilter_graph_config(agraph_.get(), nullptr);
  if (ret < 0)
    return make_error(errc::encoder_failed, "cannot set up the audio filters: "
                                        + av_error_string(ret));
  av_buffersink_set_frame_size(asink_,
                               static_cast<unsigned>(aenc_->frame_size));
  return {};
}

caf::error renderer::build_video_graph(const AVFrame* first) {
  vgraph_.reset(avfilter_graph_alloc());
  if (vgraph_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  AVRational sar = first->sample_aspect_ratio;
  if (sar.num <= 0 || sar.den <= 0)
    sar = AVRational{1, 1};
  std::string src_args = "video_size=" + std::to_string(first->width) + "x"
                         + std::to_string(first->height)
                         + ":pix_fmt=" + std::to_string(first->format)
                         + ":time_base=" + std::to_string(vst_->time_base.num)
                         + "/" + std::to_string(vst_->time_base.den)
                         + ":pixel_aspect=" + std::to_string(sar.num) + "/"
                         + std::to_string(sar.den);
  AVRational rate = av_guess_frame_rate(ic_, vst_, nullptr);
  if (rate.num > 0 && rate.den > 0)
    src_args += ":frame_rate=" + std::to_string(rate.num) + "/"
                + std::to_string(rate.den);
  auto fail = [](int ret) {
    return make_error(errc::encoder_failed, "cannot set up the video filters: "
                                        + av_error_string(ret));
  };
  int ret
    = avfilter_graph_create_filter(&vsrc_, avfilter_get_by_name("buffer"), "in",
                                   src_args.c_str(), nullptr, vgraph_.get());
  if (ret < 0)
    return fail(ret);
  AVFilterContext* split = nullptr;
  auto n = std::to_string(renditions_.size());
  ret
    = avfilter_graph_create_filter(&split, avfilter_get_by_name("split"),
                                   "split", n.c_str(), nullptr, vgraph_.get());
  if (ret >= 0)
    ret = avfilter_link(vsrc_, 0, split, 0);
  if (ret < 0)
    return fail(ret);
  for (unsigned i = 0; i < renditions_.size(); ++i) {
    auto& out = renditions_[i];
    auto idx = std::to_string(i);
    // -2: the width that keeps the aspect ratio, rounded to even.
    auto scale_args = "w=-2:h=" + std::to_string(out.height) + ":flags=bicubic";
    AVFilterContext* scale = nullptr;
    AVFilterContext* format = nullptr;
    ret = avfilter_graph_create_filter(
      &scale, avfilter_get_by_name("scale"), ("scale" + idx).c_str(),
      scale_args.c_str(), nullptr, vgraph_.get());
    if (ret >= 0)
      ret = avfilter_graph_create_filter(
        &format, avfilter_get_by_name("format"), ("format" + idx).c_str(),
        "pix_fmts=yuv420p", nullptr, vgraph_.get());
    if (ret >= 0)
      ret = avfilter_graph_create_filter(
        &out.sink, avfilter_get_by_name("buffersink"), ("out" + idx).c_str(),
        nullptr, nullptr, vgraph_.get());
    if (ret >= 0)
      ret = avfilter_link(split, i, scale, 0);
    if (ret >= 0)
      ret = avfilter_link(scale, 0, format, 0);
    if (ret >= 0)
      ret = avfilter_link(format, 0, out.sink, 0);
    if (ret < 0)
      return fail(ret);
  }
  if (ret = avfilter_graph_config(vgraph_.get(), nullptr); ret < 0)
    return fail(ret);
  return {};
}

caf::error renderer::open_rendition(rendition_out& out) {
  const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
  if (x264 == nullptr)
    return make_error(errc::encoder_failed, "no libx264 encoder in this libavcodec");
  out.enc.reset(avcodec_alloc_context3(x264));
  if (out.enc == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  auto* enc = out.enc.get();
  enc->width = av_buffersink_get_w(out.sink);
  enc->height = av_buffersink_get_h(out.sink);
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(out.sink);
  enc->time_base = av_buffersink_get_time_base(out.sink);
  AVRational rate = av_buffersink_get_frame_rate(out.sink);
  if (rate.num > 0 && rate.den > 0)
    enc->framerate = rate;
  enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  // The renditions' encoders are fed in turn from the decode thread: one
  // with a single thread encodes synchronously and stalls the others, so
  // three renditions on one thread each would use one core. Two threads
  // each let libx264 work in the background while the next one is fed.
  if (req_.threads > 0)
    enc->thread_count
      = renditions_.size() > 1
          ? std::max(2, req_.threads / static_cast<int>(renditions_.size()))
          : req_.threads;
  av_opt_set(enc->priv_data, "preset", "fast", 0);
  av_opt_set(enc->priv_data, "crf", "23", 0);
  if (int ret = avcodec_open2(enc, x264, nullptr); ret < 0)
    return make_error(errc::encoder_failed, "cannot open libx264 for " + out.name
                                        + ": " + av_error_string(ret));
  AVFormatContext* raw = nullptr;
  if (int ret = avformat_alloc_output_context2(&raw, nullptr, "mp4",
                                               out.tmp_path.c_str());
      ret < 0 || raw == nullptr)
    return make_error(errc::encoder_failed,
                      "cannot set up the MP4 muxer: " + av_error_string(ret));
  out.mux.reset(raw);
  out.mux->interrupt_callback = AVIOInterruptCB{on_interrupt, &st_};
  out.video = avformat_new_stream(raw, nullptr);
  if (out.video == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  avcodec_parameters_from_context(out.video->codecpar, enc);
  out.video->time_base = enc->time_base;
  out.video->avg_frame_rate = enc->framerate;
  if (aenc_ != nullptr) {
    out.audio = avformat_new_stream(raw, nullptr);
    if (out.audio == nullptr)
      return make_error(errc::encoder_failed, "out of memory");
    avcodec_parameters_from_context(out.audio->codecpar, aenc_.get());
    out.audio->time_base = aenc_->time_base;
  }
  if (int ret = avio_open(&raw->pb, out.tmp_path.c_str(), AVIO_FLAG_WRITE);
      ret < 0)
    return make_error(errc::storage_unavailable, "cannot write "
                                                   + out.final_path + ": "
                                                   + av_error_string(ret));
  files_.paths.push_back(out.tmp_path);
  dictionary opts;
  av_dict_set(&opts.ptr, "movflags", "+faststart", 0);
  if (int ret = avformat_write_header(raw, &opts.ptr); ret < 0) {
    if (is_storage_error(ret))
      return make_error(errc::storage_unavailable, "cannot write "
                                                     + out.final_path + ": "
                                                     + av_error_string(ret));
    return make_error(errc::encoder_failed, "cannot start the MP4 for " + out.name
                                        + ": " + av_error_string(ret));
  }
  return {};
}

caf::error renderer::setup_outputs(const AVFrame* first) {
  if (auto err = build_video_graph(first))
    return err;
  for (auto& out : renditions_)
    if (auto err = open_rendition(out))
      return err;
  outputs_ready_ = true;
  // Audio that was decoded before the first picture.
  while (!pending_audio_.empty()) {
    auto pkt = std::move(pending_audio_.front());
    pending_audio_.pop_front();
    if (auto err = write_audio_packet(pkt.get()))
      return err;
  }
  return {};
}

// -- the passes ---------------------------------------------------------------

double renderer::seconds_of(const AVFrame* frame) {
  int64_t ts = frame->best_effort_timestamp;
  if (ts == AV_NOPTS_VALUE)
    return last_video_at_ + frame_step_;
  return static_cast<double>(ts - v_offset_) * av_q2d(vst_->time_base);
}

void renderer::consider_thumbnail(const AVFrame* frame, double at) {
  if (thumb_done_ || req_.thumbnails.empty())
    return;
  if (thumb_frame_ == nullptr)
    thumb_frame_ = new_frame();
  if (thumb_frame_ == nullptr)
    return;
  // Keep the latest frame before the time (the answer when the source ends
  // first); the first frame at or after it is the one.
  av_frame_unref(thumb_frame_.get());
  if (av_frame_ref(thumb_frame_.get(), frame) < 0)
    return;
  if (at + 1e-6 >= thumb_at_ || !exact_thumbnails_)
    thumb_done_ = true;
}

void renderer::report_progress(double at) {
  if (!req_.progress || duration_ <= 0)
    return;
  double pct = std::clamp(at / duration_ * 100.0, 0.0, 100.0);
  if (pct - last_progress_ >= progress_step) {
    last_progress_ = pct;
    req_.progress(pct);
  }
}

template <class OnFrame>
caf::error renderer::decode(AVCodecContext* dec, AVPacket* pkt, AVStream* st,
                            const char* what, OnFrame&& on_frame) {
  auto at = [&] {
    if (pkt == nullptr)
      return duration_;
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE)
      return last_video_at_;
    int64_t off = st == vst_ ? v_offset_ : a_offset_;
    return static_cast<double>(ts - off) * av_q2d(st->time_base);
  };
  if (pkt != nullptr && (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0)
    return broken(what, at(), AVERROR_INVALIDDATA);
  if (int ret = avcodec_send_packet(dec, pkt); ret < 0 && ret != AVERROR_EOF)
    return broken(what, at(), ret);
  auto frame = new_frame();
  if (frame == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  for (;;) {
    int ret = avcodec_receive_frame(dec, frame.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      return {};
    if (ret < 0)
      return broken(what, at(), ret);
    if (auto err = on_frame(frame.get()))
      return err;
    av_frame_unref(frame.get());
  }
}

caf::error renderer::on_video_frame(AVFrame* frame) {
  if (auto err = check_interrupt())
    return err;
  if (src_w_ == 0) {
    if (auto err = check_dimensions(frame->width, frame->height, "picture"))
      return err;
    src_w_ = frame->width;
    src_h_ = frame->height;
    src_fmt_ = frame->format;
  } else if (frame->width != src_w_ || frame->height != src_h_
             || frame->format != src_fmt_) {
    return make_error(errc::bad_media,
                      "bad media: the video changes its picture size or "
                      "format at "
                        + seconds_text(seconds_of(frame))
                        + " s, which is not supported");
  }
  double at = seconds_of(frame);
  last_video_at_ = at;
  consider_thumbnail(frame, at);
  if (renditions_.empty())
    return {};
  if (!outputs_ready_)
    if (auto err = setup_outputs(frame))
      return err;
  frame->pts = frame->best_effort_timestamp != AV_NOPTS_VALUE
                 ? frame->best_effort_timestamp - v_offset_
                 : static_cast<int64_t>(at / av_q2d(vst_->time_base));
  if (int ret
      = av_buffersrc_add_frame_flags(vsrc_, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
      ret < 0)
    return make_error(errc::encoder_failed,
                      "video filters refused a frame: " + av_error_string(ret));
  return drain_video_sinks(false);
}

caf::error renderer::drain_video_sinks(bool flush) {
  auto frame = new_frame();
  if (frame == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  for (auto& out : renditions_) {
    for (;;) {
      int ret = av_buffersink_get_frame(out.sink, frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
        break;
      if (ret < 0)
        return make_error(errc::encoder_failed,
                          "video filters failed: " + av_error_string(ret));
      auto err = encode_video(out, frame.get());
      av_frame_unref(frame.get());
      if (err)
        return err;
    }
    if (flush)
      if (auto err = encode_video(out, nullptr))
        return err;
  }
  return {};
}

caf::error renderer::encode_video(rendition_out& out, AVFrame* frame) {
  auto* enc = out.enc.get();
  if (frame != nullptr) {
    report_progress(static_cast<double>(frame->pts) * av_q2d(enc->time_base));
    frame->pict_type = AV_PICTURE_TYPE_NONE;
    // The muxer needs rising timestamps; some sources repeat one.
    if (out.last_pts != AV_NOPTS_VALUE && frame->pts <= out.last_pts)
      frame->pts = out.last_pts + 1;
    out.last_pts = frame->pts;
  }
  if (int ret = avcodec_send_frame(enc, frame); ret < 0)
    return make_error(errc::encoder_failed, "libx264 failed for " + out.name + ": "
                                        + av_error_string(ret));
  auto pkt = new_packet();
  if (pkt == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  for (;;) {
    int ret = avcodec_receive_packet(enc, pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      return {};
    if (ret < 0)
      return make_error(errc::encoder_failed, "libx264 failed for " + out.name + ": "
                                          + av_error_string(ret));
    av_packet_rescale_ts(pkt.get(), enc->time_base, out.video->time_base);
    pkt->stream_index = out.video->index;
    if (auto err = write(out, pkt.get()))
      return err;
  }
}

caf::error renderer::write(rendition_out& out, AVPacket* pkt) {
  // Takes the packet's contents, leaves it blank.
  if (int ret = av_interleaved_write_frame(out.mux.get(), pkt); ret < 0) {
    if (st_.cancelled || st_.timed_out)
      return interrupted();
    if (is_storage_error(ret))
      return make_error(errc::storage_unavailable,
                        "writing " + out.final_path
                          + " failed: " + av_error_string(ret));
    return make_error(errc::encoder_failed, "muxing " + out.name
                                        + " failed: " + av_error_string(ret));
  }
  return {};
}

caf::error renderer::on_audio_frame(AVFrame* frame) {
  if (agraph_ == nullptr)
    if (auto err = build_audio_graph(frame))
      return err;
  // abuffer refuses a frame whose format differs from the first one's.
  // Its time base is 1/sample_rate; the source's start is time zero.
  frame->pts
    = frame->best_effort_timestamp != AV_NOPTS_VALUE
        ? av_rescale_q(frame->best_effort_timestamp - a_offset_,
                       ast_->time_base, AVRational{1, frame->sample_rate})
        : AV_NOPTS_VALUE;
  if (int ret
      = av_buffersrc_add_frame_flags(asrc_, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
      ret < 0) {
    double at
      = frame->best_effort_timestamp != AV_NOPTS_VALUE
          ? static_cast<double>(frame->best_effort_timestamp - a_offset_)
              * av_q2d(ast_->time_base)
          : 0.0;
    return make_error(errc::bad_media, "bad media: the audio format changes at "
                                         + seconds_text(at) + " s ("
                                         + av_error_string(ret) + ")");
  }
  return drain_audio_sink(false);
}

caf::error renderer::drain_audio_sink(bool flush) {
  auto frame = new_frame();
  if (frame == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  for (;;) {
    int ret = av_buffersink_get_frame(asink_, frame.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      break;
    if (ret < 0)
      return make_error(errc::encoder_failed,
                        "audio filters failed: " + av_error_string(ret));
    if (next_audio_pts_ == AV_NOPTS_VALUE)
      next_audio_pts_
        = frame->pts != AV_NOPTS_VALUE ? av_rescale_q(
            frame->pts, av_buffersink_get_time_base(asink_), aenc_->time_base)
                                       : 0;
    // Counted, not copied: AAC wants contiguous timestamps, and this keeps
    // them rising whatever the source's audio timestamps do.
    frame->pts = next_audio_pts_;
    next_audio_pts_ += frame->nb_samples;
    auto err = encode_audio(frame.get());
    av_frame_unref(frame.get());
    if (err)
      return err;
  }
  if (flush)
    return encode_audio(nullptr);
  return {};
}

caf::error renderer::encode_audio(AVFrame* frame) {
  if (int ret = avcodec_send_frame(aenc_.get(), frame); ret < 0)
    return make_error(errc::encoder_failed,
                      "AAC encoder failed: " + av_error_string(ret));
  for (;;) {
    auto pkt = new_packet();
    if (pkt == nullptr)
      return make_error(errc::encoder_failed, "out of memory");
    int ret = avcodec_receive_packet(aenc_.get(), pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      return {};
    if (ret < 0)
      return make_error(errc::encoder_failed,
                        "AAC encoder failed: " + av_error_string(ret));
    if (!outputs_ready_) {
      pending_audio_.push_back(std::move(pkt));
      continue;
    }
    if (auto err = write_audio_packet(pkt.get()))
      return err;
  }
}

caf::error renderer::write_audio_packet(AVPacket* pkt) {
  // The same AAC packets go into every rendition.
  auto copy = new_packet();
  if (copy == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  for (auto& out : renditions_) {
    if (int ret = av_packet_ref(copy.get(), pkt); ret < 0)
      return make_error(errc::encoder_failed, "out of memory");
    av_packet_rescale_ts(copy.get(), aenc_->time_base, out.audio->time_base);
    copy->stream_index = out.audio->index;
    if (auto err = write(out, copy.get()))
      return err;
    av_packet_unref(copy.get());
  }
  return {};
}

caf::error renderer::full_pass() {
  auto pkt = new_packet();
  if (pkt == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  auto on_video = [this](AVFrame* f) {
    return on_video_frame(f);
  };
  auto on_audio = [this](AVFrame* f) {
    return on_audio_frame(f);
  };
  for (;;) {
    if (auto err = check_interrupt())
      return err;
    int ret = av_read_frame(ic_, pkt.get());
    if (ret == AVERROR_EOF)
      break;
    if (ret < 0) {
      if (st_.cancelled || st_.timed_out)
        return interrupted();
      if (ic_->pb != nullptr && avio_feof(ic_->pb))
        break;
      return broken("container", last_video_at_, ret);
    }
    caf::error err;
    if (pkt->stream_index == vst_->index)
      err = decode(vdec_.get(), pkt.get(), vst_, "video stream", on_video);
    else if (adec_ != nullptr && pkt->stream_index == ast_->index)
      err = decode(adec_.get(), pkt.get(), ast_, "audio stream", on_audio);
    av_packet_unref(pkt.get());
    if (err)
      return err;
  }
  if (auto err = decode(vdec_.get(), nullptr, vst_, "video stream", on_video))
    return err;
  if (adec_ != nullptr)
    if (auto err = decode(adec_.get(), nullptr, ast_, "audio stream", on_audio))
      return err;
  if (src_w_ == 0)
    return make_error(errc::bad_media,
                      "bad media: the video stream holds no decodable picture");
  if (renditions_.empty())
    return {};
  if (int ret = av_buffersrc_add_frame_flags(vsrc_, nullptr, 0); ret < 0)
    return make_error(errc::encoder_failed,
                      "video filters failed: " + av_error_string(ret));
  if (auto err = drain_video_sinks(true))
    return err;
  if (aenc_ != nullptr) {
    if (agraph_ != nullptr) {
      if (int ret = av_buffersrc_add_frame_flags(asrc_, nullptr, 0); ret < 0)
        return make_error(errc::encoder_failed,
                          "audio filters failed: " + av_error_string(ret));
      if (auto err = drain_audio_sink(true))
        return err;
    } else if (auto err = encode_audio(nullptr)) {
      return err;
    }
  }
  return finish_renditions();
}

caf::error renderer::thumbnail_pass() {
  // Seek to the keyframe at or before the time, then decode forward.
  auto target
    = v_offset_ + static_cast<int64_t>(thumb_at_ / av_q2d(vst_->time_base));
  bool sought
    = av_seek_frame(ic_, vst_->index, target, AVSEEK_FLAG_BACKWARD) >= 0;
  // Without a seek the first frame is the source's first, not a keyframe
  // near the time: decode forward to the exact frame instead.
  if (!sought)
    exact_thumbnails_ = true;
  auto pkt = new_packet();
  if (pkt == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  bool first = true;
  bool restart = false;
  auto on_video = [&](AVFrame* f) -> caf::error {
    if (restart)
      return {};
    double at = seconds_of(f);
    if (first && sought && at > thumb_at_ + frame_step_ / 2) {
      // The demuxer landed past the time (inexact index): start over from
      // the beginning rather than answer with a later picture.
      restart = true;
      first = false;
      return {};
    }
    first = false;
    return on_video_frame(f);
  };
  for (;;) {
    if (thumb_done_)
      return {};
    if (auto err = check_interrupt())
      return err;
    int ret = av_read_frame(ic_, pkt.get());
    if (ret == AVERROR_EOF)
      break;
    if (ret < 0) {
      if (st_.cancelled || st_.timed_out)
        return interrupted();
      if (ic_->pb != nullptr && avio_feof(ic_->pb))
        break;
      return broken("container", last_video_at_, ret);
    }
    caf::error err;
    if (pkt->stream_index == vst_->index) {
      // A picture shown before the time is never the answer: when nothing
      // refers to it (a non-reference B-frame), it need not be decoded.
      // Unless the time may lie past the last picture (then the last one
      // decoded is the answer, whatever its kind).
      bool early = false;
      // The video's own end: audio may run on past the last picture.
      double video_end = vst_->duration != AV_NOPTS_VALUE && vst_->duration > 0
                           ? static_cast<double>(vst_->duration)
                               * av_q2d(vst_->time_base)
                           : duration_;
      if (exact_thumbnails_ && pkt->pts != AV_NOPTS_VALUE && video_end > 0
          && thumb_at_ + 2 * frame_step_ < video_end) {
        double shown = static_cast<double>(pkt->pts - v_offset_)
                       * av_q2d(vst_->time_base);
        early = shown + frame_step_ < thumb_at_;
      }
      vdec_->skip_frame = early ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      err = decode(vdec_.get(), pkt.get(), vst_, "video stream", on_video);
    }
    av_packet_unref(pkt.get());
    if (err)
      return err;
    if (restart) {
      restart = false;
      sought = false;
      avcodec_flush_buffers(vdec_.get());
      if (av_seek_frame(ic_, vst_->index, v_offset_, AVSEEK_FLAG_BACKWARD) < 0
          && avformat_seek_file(ic_, -1, INT64_MIN, 0, 0, 0) < 0)
        return make_error(errc::bad_media,
                          "bad media: cannot seek back to the start");
    }
  }
  if (thumb_done_)
    return {};
  if (auto err = decode(vdec_.get(), nullptr, vst_, "video stream", on_video))
    return err;
  if (thumb_frame_ == nullptr || src_w_ == 0)
    return make_error(errc::bad_media,
                      "bad media: the video stream holds no decodable picture");
  return {};
}

caf::error renderer::finish_renditions() {
  for (auto& out : renditions_) {
    if (int ret = av_write_trailer(out.mux.get()); ret < 0) {
      if (is_storage_error(ret))
        return make_error(errc::storage_unavailable,
                          "writing " + out.final_path
                            + " failed: " + av_error_string(ret));
      return make_error(errc::encoder_failed, "finishing " + out.name
                                          + " failed: " + av_error_string(ret));
    }
    auto& res = results_[out.result_index];
    res.width = out.enc->width;
    res.height = out.enc->height;
    res.video_codec = "h264";
    res.audio_codec = out.audio != nullptr ? "aac" : "";
    res.content_type = "video/mp4";
    // Closes the file (and flushes it) before it is measured and renamed.
    if (int ret = avio_closep(&out.mux->pb); ret < 0)
      return make_error(errc::storage_unavailable,
                        "writing " + out.final_path
                          + " failed: " + av_error_string(ret));
    // The written file's own duration, as a player (or ffprobe) sees it.
    res.duration = media_duration(out.tmp_path, st_);
  }
  return {};
}

// -- thumbnails ---------------------------------------------------------------

caf::error renderer::write_jpeg(const thumbnail_spec& spec,
                                rendered_output& res, const std::string& tmp) {
  const AVFrame* src = thumb_frame_.get();
  double aspect = static_cast<double>(src->width) / src->height;
  if (src->sample_aspect_ratio.num > 0 && src->sample_aspect_ratio.den > 0)
    aspect *= av_q2d(src->sample_aspect_ratio);
  auto [w, h] = fit_in_box(aspect, spec.box_width, spec.box_height);
  av_ptr<SwsContext> sws{sws_getContext(
    src->width, src->height, static_cast<AVPixelFormat>(src->format), w, h,
    AV_PIX_FMT_YUVJ420P, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr,
    nullptr)};
  if (sws == nullptr)
    return make_error(errc::encoder_failed,
                      "cannot scale the picture for thumbnail " + spec.name);
  if (src->color_range == AVCOL_RANGE_JPEG) {
    // Full-range input in a limited-range pixel format: say so.
    int* inv = nullptr;
    int* table = nullptr;
    int src_range = 0;
    int dst_range = 0;
    int brightness = 0;
    int contrast = 0;
    int saturation = 0;
    if (sws_getColorspaceDetails(sws.get(), &inv, &src_range, &table,
                                 &dst_range, &brightness, &contrast,
                                 &saturation)
        >= 0)
      sws_setColorspaceDetails(sws.get(), inv, 1, table, dst_range, brightness,
                               contrast, saturation);
  }
  auto dst = new_frame();
  if (dst == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  dst->format = AV_PIX_FMT_YUVJ420P;
  dst->width = w;
  dst->height = h;
  if (av_frame_get_buffer(dst.get(), 0) < 0)
    return make_error(errc::encoder_failed, "out of memory");
  sws_scale(sws.get(), src->data, src->linesize, 0, src->height, dst->data,
            dst->linesize);
  const AVCodec* mjpeg = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (mjpeg == nullptr)
    return make_error(errc::encoder_failed, "no JPEG encoder in this libavcodec");
  av_ptr<AVCodecContext> enc{avcodec_alloc_context3(mjpeg)};
  if (enc == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
  enc->color_range = AVCOL_RANGE_JPEG;
  enc->time_base = AVRational{1, 25};
  // Fixed quantiser 3: ffmpeg's -q:v 3, a good JPEG at a modest size.
  enc->flags |= AV_CODEC_FLAG_QSCALE;
  enc->global_quality = FF_QP2LAMBDA * 3;
  if (int ret = avcodec_open2(enc.get(), mjpeg, nullptr); ret < 0)
    return make_error(errc::encoder_failed,
                      "cannot open the JPEG encoder: " + av_error_string(ret));
  dst->quality = enc->global_quality;
  dst->pts = 0;
  dst->color_range = AVCOL_RANGE_JPEG;
  auto pkt = new_packet();
  if (pkt == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  int ret = avcodec_send_frame(enc.get(), dst.get());
  if (ret >= 0)
    ret = avcodec_send_frame(enc.get(), nullptr);
  if (ret >= 0)
    ret = avcodec_receive_packet(enc.get(), pkt.get());
  if (ret < 0)
    return make_error(errc::encoder_failed,
                      "JPEG encoding failed: " + av_error_string(ret));
  files_.paths.push_back(tmp);
  auto* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr)
    return make_error(errc::storage_unavailable,
                      "cannot write " + res.path + ": "
                        + std::generic_category().message(errno));
  bool ok = std::fwrite(pkt->data, 1, static_cast<size_t>(pkt->size), f)
            == static_cast<size_t>(pkt->size);
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    return make_error(errc::storage_unavailable,
                      "writing " + res.path + " failed");
  res.width = w;
  res.height = h;
  res.content_type = "image/jpeg";
  return {};
}

caf::error renderer::write_thumbnails() {
  for (size_t i = 0; i < req_.thumbnails.size(); ++i) {
    if (auto err = check_interrupt())
      return err;
    auto& res = results_[i];
    if (auto err = write_jpeg(req_.thumbnails[i], res,
                              req_.out_dir + "/.partial-" + res.name + ".jpg"))
      return err;
  }
  return {};
}

caf::expected<std::vector<rendered_output>> renderer::run() {
  prepare_libav();
  st_.deadline = clock_type::now()
                 + std::min(req_.timeout,
                            std::chrono::milliseconds{std::chrono::hours{24}});
  st_.cancel = req_.cancel;
  if (req_.cancel != nullptr && req_.cancel->load())
    return make_error(errc::cancelled, "render cancelled");
  if (req_.timeout.count() <= 0)
    return make_error(errc::timeout, "render started with no time left");
  // Names become file names in out_dir: plain ones only, each once per kind
  // (a leading dot is kept for our temporary files).
  auto bad_names = [](const auto& specs) {
    for (size_t i = 0; i < specs.size(); ++i) {
      auto& name = specs[i].name;
      if (name.empty() || name.front() == '.'
          || name.find('/') != std::string::npos
          || name.find('\0') != std::string::npos)
        return true;
      for (size_t j = 0; j < i; ++j)
        if (specs[j].name == name)
          return true;
    }
    return false;
  };
  if (bad_names(req_.thumbnails) || bad_names(req_.renditions))
    return make_error(errc::invalid_argument,
                      "output names must be unique, non-empty, without '/' "
                      "and not start with '.'");
  for (auto& spec : req_.thumbnails)
    if (spec.box_width <= 0 || spec.box_height <= 0)
      return make_error(errc::invalid_argument,
                        "thumbnail " + spec.name + " has an empty box");
  for (auto& spec : req_.renditions)
    if (spec.height < 2)
      return make_error(errc::invalid_argument,
                        "rendition " + spec.name + " has no height");
  for (auto& spec : req_.thumbnails) {
    rendered_output res;
    res.kind = "thumbnail";
    res.name = spec.name;
    results_.push_back(std::move(res));
  }
  for (auto& spec : req_.renditions) {
    rendered_output res;
    res.kind = "rendition";
    res.name = spec.name;
    results_.push_back(std::move(res));
  }
  if (auto err = open_source())
    return err;
  if (vst_ == nullptr) {
    for (auto& res : results_)
      res.skipped = "source has no video stream";
    return std::move(results_);
  }
  if (auto err = open_video_decoder())
    return err;
  int src_h = vst_->codecpar->height;
  for (size_t i = 0; i < req_.renditions.size(); ++i) {
    auto& spec = req_.renditions[i];
    auto& res = results_[req_.thumbnails.size() + i];
    if (spec.height > src_h) {
      res.skipped = "source is " + std::to_string(src_h)
                    + " pixels high; renditions are never upscaled";
      continue;
    }
    rendition_out out;
    out.result_index = req_.thumbnails.size() + i;
    out.name = spec.name;
    // 4:2:0 needs even sides.
    out.height = spec.height - (spec.height % 2);
    out.final_path = req_.out_dir + "/" + spec.name + ".mp4";
    out.tmp_path = req_.out_dir + "/.partial-" + spec.name + ".mp4";
    res.path = out.final_path;
    renditions_.push_back(std::move(out));
  }
  for (size_t i = 0; i < req_.thumbnails.size(); ++i)
    results_[i].path = req_.out_dir + "/" + req_.thumbnails[i].name + ".jpg";
  thumb_at_ = req_.thumbnail_at >= 0
                ? req_.thumbnail_at
                : (duration_ > 0 ? std::min(1.0, duration_ / 2) : 1.0);
  exact_thumbnails_ = !req_.keyframe_thumbnails || !renditions_.empty();
  // "Past the end" means the last frame, whatever the snapping.
  if (duration_ > 0 && thumb_at_ >= duration_)
    exact_thumbnails_ = true;
  if (!renditions_.empty()) {
    if (ast_ != nullptr)
      if (auto err = open_audio())
        return err;
    if (auto err = full_pass())
      return err;
  } else if (!req_.thumbnails.empty()) {
    if (auto err = thumbnail_pass())
      return err;
  }
  if (!req_.thumbnails.empty() && thumb_frame_ == nullptr)
    return make_error(errc::bad_media,
                      "bad media: the video stream holds no decodable picture");
  if (auto err = write_thumbnails())
    return err;
  if (auto err = check_interrupt())
    return err;
  // Everything is written: give the files their names.
  for (size_t i = 0; i < req_.thumbnails.size(); ++i) {
    auto tmp = req_.out_dir + "/.partial-" + results_[i].name + ".jpg";
    if (std::rename(tmp.c_str(), results_[i].path.c_str()) != 0)
      return make_error(errc::storage_unavailable,
                        "cannot rename " + tmp + ": "
                          + std::generic_category().message(errno));
    files_.paths.push_back(results_[i].path);
  }
  for (auto& out : renditions_) {
    if (std::rename(out.tmp_path.c_str(), out.final_path.c_str()) != 0)
      return make_error(errc::storage_unavailable,
                        "cannot rename " + out.tmp_path + ": "
                          + std::generic_category().message(errno));
    files_.paths.push_back(out.final_path);
  }
  for (auto& res : results_)
    if (res.skipped.empty())
      res.bytes = file_size(res.path);
  if (req_.progress)
    req_.progress(100.0);
  files_.keep = true;
  return std::move(results_);
}

} // namespace

caf::expected<std::vector<rendered_output>>
render_file(const render_request& req) {
  renderer r{req};
  return r.run();
}

} // namespace vf::adapters::media
