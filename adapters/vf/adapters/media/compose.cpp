// vf/adapters/media/compose.cpp
//
// Each source file is opened (confined), seeked near its clip's start and
// decoded into `buffer`/`abuffer` sources of one filter graph:
//
//   clip i video: trim, setpts, scale (fit), pad, setsar, fps, format,
//                 tpad + trim (exactly the clip's length); a still picture
//                 is decoded once and fed again at the output's frame rate
//                 for the clip's length (no trim, no seek)
//   clip i audio: atrim, asetpts, aresample, aformat, volume, apad + atrim
//                 (silence from anullsrc when the clip has no sound)
//   concat of every clip's video and audio
//   music:        aresample, aformat, atrim to the length, afade out, volume
//   voiceover:    aresample, aformat, volume
//   amix (duration of the clips, no normalization) -> abuffersink
//   video:        drawtext per overlay (created here, not parsed: user text
//                 never goes through filtergraph syntax) -> buffersink
//
// The graph says which source it needs next (failed requests on the
// buffer sources, as the ffmpeg CLI does), so the files are read in step
// and nothing piles up. Music frames are restamped as one continuous
// stream, so the file loops by seeking back to its start.

#include "vf/adapters/media/compose.hpp"

#include "vf/adapters/media/confined_input.hpp"
#include "vf/adapters/media/libav_util.hpp"
#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
}

namespace vf::adapters::media {

namespace {

using namespace detail;
using messages::errc;
using messages::make_error;

constexpr size_t max_clips = 20;
constexpr size_t max_overlays = 10;
constexpr double max_length_s = 600;
constexpr int sample_rate = 48000;
constexpr int64_t aac_bit_rate = 128000;
/// Frames decoded past a clip's end before its source is closed (B-frame
/// reordering may still hold frames of the window).
constexpr double tail_s = 0.5;

std::string num(double x) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.6f", x);
  return buf.data();
}

bool is_color(const std::string& c) {
  if (c.size() != 7 || c[0] != '#')
    return false;
  return std::all_of(c.begin() + 1, c.end(), [](char x) {
    return std::isxdigit(static_cast<unsigned char>(x)) != 0;
  });
}

/// drawtext's x and y for `pos`, `m` pixels from the edges.
std::pair<std::string, std::string> place(overlay_position pos, int m) {
  auto ms = std::to_string(m);
  std::string left = ms, hcenter = "(w-text_w)/2", right = "w-text_w-" + ms;
  std::string top = ms, vcenter = "(h-text_h)/2", bottom = "h-text_h-" + ms;
  switch (pos) {
    case overlay_position::top_left:
      return {left, top};
    case overlay_position::top_center:
      return {hcenter, top};
    case overlay_position::top_right:
      return {right, top};
    case overlay_position::center_left:
      return {left, vcenter};
    case overlay_position::center:
      return {hcenter, vcenter};
    case overlay_position::center_right:
      return {right, vcenter};
    case overlay_position::bottom_left:
      return {left, bottom};
    case overlay_position::bottom_center:
      return {hcenter, bottom};
    case overlay_position::bottom_right:
      break;
  }
  return {right, bottom};
}

/// One opened source file and what it feeds.
struct source {
  std::string path;
  confined_input in;
  AVFormatContext* ic = nullptr;
  int vidx = -1;
  int aidx = -1;
  av_ptr<AVCodecContext> vdec;
  av_ptr<AVCodecContext> adec;
  AVFilterContext* vsrc = nullptr; // owned by the graph; null: not fed
  AVFilterContext* asrc = nullptr;
  std::deque<av_ptr<AVFrame>> vq;
  std::deque<av_ptr<AVFrame>> aq;
  bool v_closed = false;
  bool a_closed = false;
  bool eof = false;
  /// Seconds (source time) after which no frame is needed; infinity: all.
  double stop_at = std::numeric_limits<double>::infinity();
  /// Music/voiceover: frames are restamped as one stream (samples so far),
  /// ended at `audio_until` seconds; `loop`: the file starts over at EOF.
  bool restamp = false;
  bool loop = false;
  double audio_until = 0;
  int64_t next_pts = 0;
  bool fed_any = false;
  /// Frames decoded since the file last started over (a file that yields
  /// none is not looped again).
  size_t since_loop = 0;
  /// A still picture: decoded once, then fed `still_for` seconds long at
  /// the output's frame rate (`next_pts` counts the frames).
  bool still = false;
  double still_for = 0;
  av_ptr<AVFrame> picture;
};

class compositor {
public:
  explicit compositor(const compose_request& req) : req_(req) {}

  caf::expected<composed_output> run();

private:
  caf::error interrupted() const {
    if (st_.cancelled)
      return make_error(errc::cancelled, "composition cancelled");
    return make_error(errc::timeout, "composition took longer than its "
                                     "deadline");
  }
  caf::error check_interrupt() {
    if (on_interrupt(&st_) != 0)
      return interrupted();
    return {};
  }
  caf::error open(source& s, bool want_video, bool want_audio);
  caf::error read_some(source& s);
  caf::error prime(source& s);
  caf::error build_graph();
  caf::error open_encoders();
  caf::error feed(source& s, bool video);
  caf::error drain();
  caf::error encode(AVCodecContext* enc, AVStream* st, const AVFrame* frame);
  std::string src_args(const source& s, bool video) const;

  const compose_request& req_;
  interrupt_state st_;
  std::vector<std::unique_ptr<source>> sources_; // clips, then music, voice
  source* music_ = nullptr;
  source* voice_ = nullptr;
  double total_ = 0;
  av_ptr<AVFilterGraph> graph_;
  AVFilterContext* vsink_ = nullptr;
  AVFilterContext* asink_ = nullptr;
  av_ptr<AVCodecContext> venc_;
  av_ptr<AVCodecContext> aenc_;
  muxer_ptr mux_;
  AVStream* vst_ = nullptr;
  AVStream* ast_ = nullptr;
  bool v_done_ = false;
  bool a_done_ = false;
  double reported_ = -1;
  written_files files_;
};

caf::error compositor::open(source& s, bool want_video, bool want_audio) {
  if (int ret = s.in.open(s.path, AVIOInterruptCB{on_interrupt, &st_},
                          nullptr,
                          s.still ? media_kind::still_image : media_kind::av);
      ret < 0) {
    if (st_.cancelled || st_.timed_out)
      return interrupted();
    if (ret == AVERROR(ENOENT))
      return make_error(errc::not_found, "no such source file");
    return make_error(errc::bad_media,
                      "cannot read a source: " + av_error_string(ret));
  }
  s.ic = s.in.get();
  if (int ret = avformat_find_stream_info(s.ic, nullptr); ret < 0)
    return make_error(errc::bad_media, "cannot read a source's streams: "
                                         + av_error_string(ret));
  auto open_dec = [&](int idx, av_ptr<AVCodecContext>& dec) -> caf::error {
    auto* par = s.ic->streams[idx]->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (codec == nullptr)
      return make_error(errc::unsupported_codec,
                        "unsupported codec in a source: no decoder");
    dec.reset(avcodec_alloc_context3(codec));
    if (dec == nullptr)
      return make_error(errc::encoder_failed, "out of memory");
    if (int ret = avcodec_parameters_to_context(dec.get(), par); ret < 0)
      return make_error(errc::encoder_failed, av_error_string(ret));
    dec->pkt_timebase = s.ic->streams[idx]->time_base;
    dec->thread_count = 1;
    // As the probe allowed: a picture over it is refused before decoding.
    if (s.still)
      dec->max_pixels = max_picture_pixels;
    if (int ret = avcodec_open2(dec.get(), codec, nullptr); ret < 0)
      return make_error(errc::bad_media,
                        "cannot decode a source: " + av_error_string(ret));
    return {};
  };
  if (want_video) {
    s.vidx = av_find_best_stream(s.ic, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (s.vidx < 0)
      return make_error(errc::bad_media, "a clip's source has no video");
    auto* par = s.ic->streams[s.vidx]->codecpar;
    if (par->width <= 0 || par->height <= 0 || par->width > 16384
        || par->height > 16384)
      return make_error(errc::bad_media, "a clip's source has an absurd or "
                                         "zero picture size");
    if (auto err = open_dec(s.vidx, s.vdec))
      return err;
  }
  if (want_audio) {
    s.aidx = av_find_best_stream(s.ic, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (s.aidx >= 0) {
      if (auto err = open_dec(s.aidx, s.adec))
        return err;
    }
  }
  return {};
}

/// Reads one packet of `s` and decodes it into its queues; at the end of
/// the file flushes the decoders (or starts over, for looping music).
caf::error compositor::read_some(source& s) {
  auto pkt = new_packet();
  if (pkt == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  int ret = av_read_frame(s.ic, pkt.get());
  if (ret == AVERROR(EAGAIN))
    return {};
  if (ret < 0 && (st_.cancelled || st_.timed_out))
    return interrupted();
  auto decode = [&](AVCodecContext* dec, const AVPacket* p,
                    std::deque<av_ptr<AVFrame>>& q) -> caf::error {
    if (dec == nullptr)
      return {};
    int r = avcodec_send_packet(dec, p);
    if (r < 0 && r != AVERROR_EOF && r != AVERROR(EAGAIN))
      return make_error(errc::bad_media,
                        "a source is broken: " + av_error_string(r));
    for (;;) {
      auto frame = new_frame();
      if (frame == nullptr)
        return make_error(errc::encoder_failed, "out of memory");
      r = avcodec_receive_frame(dec, frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
        return {};
      if (r < 0)
        return make_error(errc::bad_media,
                          "a source is broken: " + av_error_string(r));
      frame->pts = frame->best_effort_timestamp;
      ++s.since_loop;
      q.push_back(std::move(frame));
    }
  };
  if (ret < 0) {
    // End of the file: what the decoders still hold, then the end (or the
    // start again).
    if (auto err = decode(s.vdec.get(), nullptr, s.vq))
      return err;
    if (auto err = decode(s.adec.get(), nullptr, s.aq))
      return err;
    if (s.loop && s.fed_any && s.since_loop > 0) {
      if (av_seek_frame(s.ic, -1, 0, AVSEEK_FLAG_BACKWARD) < 0)
        return make_error(errc::bad_media, "cannot loop the music");
      if (s.adec != nullptr)
        avcodec_flush_buffers(s.adec.get());
      s.since_loop = 0;
      return {};
    }
    s.eof = true;
    return {};
  }
  if (pkt->stream_index == s.vidx && !s.v_closed)
    return decode(s.vdec.get(), pkt.get(), s.vq);
  if (pkt->stream_index == s.aidx && !s.a_closed)
    return decode(s.adec.get(), pkt.get(), s.aq);
  return {};
}

/// Decodes until every stream `s` feeds has its first frame: the buffer
/// sources are set up from real frames, not from headers.
caf::error compositor::prime(source& s) {
  for (int n = 0; n < 5000; ++n) {
    bool v_ok = s.vidx < 0 || s.vdec == nullptr || !s.vq.empty();
    bool a_ok = s.aidx < 0 || s.adec == nullptr || !s.aq.empty();
    if (v_ok && a_ok)
      return {};
    if (s.eof)
      break;
    if (auto err = read_some(s))
      return err;
  }
  if (s.vdec != nullptr && s.vq.empty())
    return make_error(errc::bad_media, "a clip's source has no video frame "
                                       "in its window");
  if (s.adec != nullptr && s.aq.empty()) {
    // No sound where the clip is: treat as silent.
    s.adec.reset();
    s.aidx = -1;
  }
  return {};
}

std::string compositor::src_args(const source& s, bool video) const {
  if (video) {
    auto& f = *s.vq.front();
    // A picture's frames are counted at the output's rate.
    auto tb = s.still ? AVRational{1, req_.fps}
                      : s.ic->streams[s.vidx]->time_base;
    AVRational sar = f.sample_aspect_ratio;
    if (sar.num <= 0 || sar.den <= 0)
      sar = AVRational{1, 1};
    return "video_size=" + std::to_string(f.width) + "x"
           + std::to_string(f.height) + ":pix_fmt=" + std::to_string(f.format)
           + ":time_base=" + std::to_string(tb.num) + "/"
           + std::to_string(tb.den) + ":pixel_aspect=" + std::to_string(sar.num)
           + "/" + std::to_string(sar.den);
  }
  auto& f = *s.aq.front();
  channel_layout layout;
  if (f.ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
    av_channel_layout_copy(&layout.val, &f.ch_layout);
  else
    av_channel_layout_default(&layout.val, f.ch_layout.nb_channels);
  std::array<char, 128> name{};
  av_channel_layout_describe(&layout.val, name.data(), name.size());
  auto* fmt = av_get_sample_fmt_name(static_cast<AVSampleFormat>(f.format));
  auto tb = s.restamp ? AVRational{1, f.sample_rate}
                      : s.ic->streams[s.aidx]->time_base;
  return "time_base=" + std::to_string(tb.num) + "/" + std::to_string(tb.den)
         + ":sample_rate=" + std::to_string(f.sample_rate) + ":sample_fmt="
         + (fmt != nullptr ? fmt : "fltp") + ":channel_layout=" + name.data();
}

caf::error compositor::build_graph() {
  graph_.reset(avfilter_graph_alloc());
  if (graph_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  auto fail = [](const std::string& what, int ret) {
    return make_error(errc::encoder_failed,
                      "cannot set up the composition's filters (" + what
                        + "): " + av_error_string(ret));
  };
  auto W = std::to_string(req_.width);
  auto H = std::to_string(req_.height);
  auto F = std::to_string(req_.fps);
  const std::string afmt
    = "aformat=sample_fmts=fltp:sample_rates=" + std::to_string(sample_rate)
      + ":channel_layouts=stereo";
  std::string desc;
  std::string cat;
  // The graph's open inputs: one per buffer source, by label (libav calls
  // them the caller's "outputs").
  av_ptr<AVFilterInOut> outs;
  auto add_src
    = [&](source& s, bool video, const std::string& label) -> caf::error {
    auto& ctx = video ? s.vsrc : s.asrc;
    int ret = avfilter_graph_create_filter(
      &ctx, avfilter_get_by_name(video ? "buffer" : "abuffer"), label.c_str(),
      src_args(s, video).c_str(), nullptr, graph_.get());
    if (ret < 0)
      return fail(label, ret);
    auto* io = avfilter_inout_alloc();
    if (io == nullptr)
      return make_error(errc::encoder_failed, "out of memory");
    io->name = av_strdup(label.c_str());
    io->filter_ctx = ctx;
    io->pad_idx = 0;
    io->next = outs.release();
    outs.reset(io);
    return {};
  };
  for (size_t i = 0; i < req_.clips.size(); ++i) {
    auto& c = req_.clips[i];
    auto& s = *sources_[i];
    auto idx = std::to_string(i);
    double offset = s.ic->start_time != AV_NOPTS_VALUE
                      ? static_cast<double>(s.ic->start_time) / AV_TIME_BASE
                      : 0.0;
    auto S = num(c.start + offset);
    auto E = num(c.end + offset);
    auto D = num(c.end - c.start);
    if (auto err = add_src(s, true, "v" + idx))
      return err;
    desc += "[v" + idx + "]"
            + (s.still ? std::string{} : "trim=start=" + S + ":end=" + E + ",")
            + "setpts=PTS-STARTPTS,scale=" + W + ":" + H
            + ":force_original_aspect_ratio=decrease:flags=bicubic,pad=" + W
            + ":" + H + ":(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps=" + F
            + ",format=yuv420p,tpad=stop_mode=clone:stop_duration=1,trim=end="
            + D + "[cv" + idx + "];";
    if (s.adec != nullptr) {
      if (auto err = add_src(s, false, "a" + idx))
        return err;
      desc += "[a" + idx + "]atrim=start=" + S + ":end=" + E
              + ",asetpts=PTS-STARTPTS,aresample=" + std::to_string(sample_rate)
              + "," + afmt + ",volume=" + num(req_.original_volume)
              + ",apad=whole_dur=" + D + ",atrim=end=" + D + "[ca" + idx + "];";
    } else {
      desc += "anullsrc=r=" + std::to_string(sample_rate)
              + ":cl=stereo,atrim=end=" + D + "," + afmt + "[ca" + idx + "];";
    }
    cat += "[cv" + idx + "][ca" + idx + "]";
  }
  desc += cat + "concat=n=" + std::to_string(req_.clips.size())
          + ":v=1:a=1[vcat][acat];";
  std::string mix = "[acat]";
  int mixed = 1;
  auto T = num(total_);
  if (music_ != nullptr) {
    if (auto err = add_src(*music_, false, "m"))
      return err;
    desc += "[m]aresample=" + std::to_string(sample_rate) + "," + afmt
            + ",atrim=end=" + T
            + ",afade=t=out:st=" + num(std::max(0.0, total_ - 1.0))
            + ":d=1,volume=" + num(req_.music_volume) + "[mus];";
    mix += "[mus]";
    ++mixed;
  }
  if (voice_ != nullptr) {
    if (auto err = add_src(*voice_, false, "vo"))
      return err;
    desc += "[vo]aresample=" + std::to_string(sample_rate) + "," + afmt
            + ",atrim=end=" + T + ",volume=" + num(req_.voiceover_volume)
            + "[voc];";
    mix += "[voc]";
    ++mixed;
  }
  if (mixed > 1)
    desc += mix + "amix=inputs=" + std::to_string(mixed)
            + ":duration=first:dropout_transition=0:normalize=0," + afmt
            + "[aout];";
  else
    desc += "[acat]anull[aout];";
  desc += "[vcat]null[vout]";
  // Sinks, and the overlays between the video's end and its sink.
  int ret
    = avfilter_graph_create_filter(&vsink_, avfilter_get_by_name("buffersink"),
                                   "vsink", nullptr, nullptr, graph_.get());
  if (ret >= 0)
    ret = avfilter_graph_create_filter(&asink_,
                                       avfilter_get_by_name("abuffersink"),
                                       "asink", nullptr, nullptr, graph_.get());
  if (ret < 0)
    return fail("sinks", ret);
  AVFilterContext* video_end = vsink_;
  int margin = std::max(4, std::min(req_.width, req_.height) * 3 / 100);
  for (size_t i = req_.overlays.size(); i-- > 0;) {
    auto& o = req_.overlays[i];
    AVFilterContext* dt = avfilter_graph_alloc_filter(
      graph_.get(), avfilter_get_by_name("drawtext"),
      ("text" + std::to_string(i)).c_str());
    if (dt == nullptr)
      return make_error(errc::encoder_failed,
                        "this libavfilter has no drawtext filter");
    auto [x, y] = place(o.position, margin);
    auto end = o.end < 0 ? total_ + 1 : o.end;
    dictionary opts;
    av_dict_set(&opts.ptr, "fontfile", req_.font_path.c_str(), 0);
    av_dict_set(&opts.ptr, "text", o.text.c_str(), 0);
    av_dict_set(&opts.ptr, "expansion", "none", 0);
    av_dict_set(&opts.ptr, "fontsize", std::to_string(o.font_size).c_str(), 0);
    av_dict_set(&opts.ptr, "fontcolor", ("0x" + o.color.substr(1)).c_str(), 0);
    av_dict_set(&opts.ptr, "x", x.c_str(), 0);
    av_dict_set(&opts.ptr, "y", y.c_str(), 0);
    av_dict_set(&opts.ptr, "enable",
                ("between(t," + num(o.start) + "," + num(end) + ")").c_str(),
                0);
    if (ret = avfilter_init_dict(dt, &opts.ptr); ret < 0)
      return fail("overlay " + std::to_string(i), ret);
    if (ret = avfilter_link(dt, 0, video_end, 0); ret < 0)
      return fail("overlay " + std::to_string(i), ret);
    video_end = dt;
  }
  // The graph's open outputs: the video's end and the audio sink.
  av_ptr<AVFilterInOut> ins;
  for (auto [label, ctx] :
       {std::pair{"aout", asink_}, std::pair{"vout", video_end}}) {
    auto* io = avfilter_inout_alloc();
    if (io == nullptr)
      return make_error(errc::encoder_failed, "out of memory");
    io->name = av_strdup(label);
    io->filter_ctx = ctx;
    io->pad_idx = 0;
    io->next = ins.release();
    ins.reset(io);
  }
  AVFilterInOut* in_list = ins.release();
  AVFilterInOut* out_list = outs.release();
  ret = avfilter_graph_parse_ptr(graph_.get(), desc.c_str(), &in_list,
                                 &out_list, nullptr);
  avfilter_inout_free(&in_list);
  avfilter_inout_free(&out_list);
  if (ret < 0)
    return fail("graph", ret);
  graph_->nb_threads = 1;
  if (ret = avfilter_graph_config(graph_.get(), nullptr); ret < 0)
    return fail("config", ret);
  return {};
}

caf::error compositor::open_encoders() {
  const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
  const AVCodec* aac = avcodec_find_encoder_by_name("aac");
  if (x264 == nullptr || aac == nullptr)
    return make_error(errc::encoder_failed,
                      "this libavcodec lacks libx264 or the AAC encoder");
  AVFormatContext* raw = nullptr;
  if (int ret = avformat_alloc_output_context2(
        &raw, nullptr, req_.format.c_str(), req_.output_path.c_str());
      ret < 0 || raw == nullptr)
    return make_error(errc::encoder_failed,
                      "cannot set up the " + req_.format + " muxer");
  mux_.reset(raw);
  mux_->interrupt_callback = AVIOInterruptCB{on_interrupt, &st_};
  venc_.reset(avcodec_alloc_context3(x264));
  aenc_.reset(avcodec_alloc_context3(aac));
  if (venc_ == nullptr || aenc_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  auto* v = venc_.get();
  v->width = av_buffersink_get_w(vsink_);
  v->height = av_buffersink_get_h(vsink_);
  v->pix_fmt = AV_PIX_FMT_YUV420P;
  v->sample_aspect_ratio = AVRational{1, 1};
  v->time_base = av_buffersink_get_time_base(vsink_);
  v->framerate = AVRational{req_.fps, 1};
  v->gop_size = 2 * req_.fps;
  v->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (req_.threads > 0)
    v->thread_count = req_.threads;
  av_opt_set(v->priv_data, "preset", "fast", 0);
  if (req_.video_bitrate > 0) {
    v->bit_rate = req_.video_bitrate;
    v->rc_max_rate = req_.video_bitrate * 2;
    v->rc_buffer_size
      = static_cast<int>(std::min<int64_t>(req_.video_bitrate * 2, INT32_MAX));
  } else {
    av_opt_set(v->priv_data, "crf", "23", 0);
  }
  if (int ret = avcodec_open2(v, x264, nullptr); ret < 0)
    return make_error(errc::encoder_failed,
                      "cannot open libx264: " + av_error_string(ret));
  auto* a = aenc_.get();
  a->sample_rate = sample_rate;
  a->sample_fmt = AV_SAMPLE_FMT_FLTP;
  av_channel_layout_default(&a->ch_layout, 2);
  a->bit_rate = aac_bit_rate;
  a->time_base = AVRational{1, sample_rate};
  a->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (int ret = avcodec_open2(a, aac, nullptr); ret < 0)
    return make_error(errc::encoder_failed,
                      "cannot open the AAC encoder: " + av_error_string(ret));
  av_buffersink_set_frame_size(asink_, static_cast<unsigned>(a->frame_size));
  vst_ = avformat_new_stream(raw, nullptr);
  ast_ = avformat_new_stream(raw, nullptr);
  if (vst_ == nullptr || ast_ == nullptr)
    return make_error(errc::encoder_failed, "out of memory");
  avcodec_parameters_from_context(vst_->codecpar, v);
  vst_->time_base = v->time_base;
  vst_->avg_frame_rate = v->framerate;
  avcodec_parameters_from_context(ast_->codecpar, a);
  ast_->time_base = a->time_base;
  if (int ret = avio_open(&raw->pb, req_.output_path.c_str(), AVIO_FLAG_WRITE);
      ret < 0)
    return make_error(errc::storage_unavailable,
                      "cannot write the composition: " + av_error_string(ret));
  files_.paths.push_back(req_.output_path);
  dictionary opts;
  av_dict_set(&opts.ptr, "movflags", "+faststart", 0);
  if (int ret = avformat_write_header(raw, &opts.ptr); ret < 0)
    return make_error(
      is_storage_error(ret) ? errc::storage_unavailable : errc::encoder_failed,
      "cannot start the " + req_.format + ": " + av_error_string(ret));
  return {};
}

/// Pushes one frame (or the end) into the video or audio source of `s`.
caf::error compositor::feed(source& s, bool video) {
  auto& q = video ? s.vq : s.aq;
  auto* src = video ? s.vsrc : s.asrc;
  auto& closed = video ? s.v_closed : s.a_closed;
  auto close = [&]() -> caf::error {
    closed = true;
    q.clear();
    if (int ret = av_buffersrc_add_frame_flags(src, nullptr, 0); ret < 0)
      return make_error(errc::encoder_failed, av_error_string(ret));
    return {};
  };
  if (video && s.still) {
    // The one picture, again and again, each frame a reference to it.
    // Nothing past the first picture is read: a file of many pictures
    // must not decode them all.
    while (s.picture == nullptr && q.empty() && !s.eof)
      if (auto err = read_some(s))
        return err;
    if (s.picture == nullptr && !q.empty()) {
      s.picture = std::move(q.front());
      q.clear();
    }
    if (s.picture == nullptr
        || static_cast<double>(s.next_pts) / req_.fps >= s.still_for) {
      // The graph holds what it still needs: our picture and its decoder
      // go now, not when the whole composition ends.
      s.picture.reset();
      s.vdec.reset();
      return close();
    }
    s.picture->pts = s.next_pts++;
    if (int ret = av_buffersrc_add_frame_flags(src, s.picture.get(),
                                               AV_BUFFERSRC_FLAG_KEEP_REF);
        ret < 0)
      return make_error(errc::encoder_failed, av_error_string(ret));
    return {};
  }
  while (q.empty() && !s.eof)
    if (auto err = read_some(s))
      return err;
  if (q.empty())
    return close();
  auto frame = std::move(q.front());
  q.pop_front();
  if (s.restamp) {
    // One continuous stream in samples, whatever the file says.
    if (static_cast<double>(s.next_pts) / frame->sample_rate >= s.audio_until)
      return close();
    frame->pts = s.next_pts;
    s.next_pts += frame->nb_samples;
    s.fed_any = true;
  } else {
    auto idx = video ? s.vidx : s.aidx;
    auto tb = s.ic->streams[idx]->time_base;
    if (frame->pts != AV_NOPTS_VALUE
        && static_cast<double>(frame->pts) * av_q2d(tb) > s.stop_at)
      return close();
  }
  if (int ret = av_buffersrc_add_frame_flags(src, frame.get(),
                                             AV_BUFFERSRC_FLAG_KEEP_REF);
      ret < 0)
    return make_error(errc::bad_media, "a source changed format mid-stream: "
                                         + av_error_string(ret));
  return {};
}

caf::error compositor::encode(AVCodecContext* enc, AVStream* st,
                              const AVFrame* frame) {
  int ret = avcodec_send_frame(enc, frame);
  if (ret < 0 && ret != AVERROR_EOF)
    return make_error(errc::encoder_failed, "encoder: " + av_error_string(ret));
  auto pkt = new_packet();
  for (;;) {
    ret = avcodec_receive_packet(enc, pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      return {};
    if (ret < 0)
      return make_error(errc::encoder_failed,
                        "encoder: " + av_error_string(ret));
    av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    ret = av_interleaved_write_frame(mux_.get(), pkt.get());
    if (ret < 0) {
      if (st_.cancelled || st_.timed_out)
        return interrupted();
      return make_error(is_storage_error(ret) ? errc::storage_unavailable
                                              : errc::encoder_failed,
                        "cannot write the composition: "
                          + av_error_string(ret));
    }
  }
}

/// Takes what the sinks have; `flush`: the sources are all closed.
caf::error compositor::drain() {
  auto frame = new_frame();
  for (auto video : {true, false}) {
    auto& done = video ? v_done_ : a_done_;
    while (!done) {
      int ret = av_buffersink_get_frame(video ? vsink_ : asink_, frame.get());
      if (ret == AVERROR(EAGAIN))
        break;
      if (ret == AVERROR_EOF) {
        done = true;
        auto* enc = video ? venc_.get() : aenc_.get();
        if (auto err = encode(enc, video ? vst_ : ast_, nullptr))
          return err;
        break;
      }
      if (ret < 0)
        return make_error(errc::encoder_failed,
                          "filters: " + av_error_string(ret));
      if (video) {
        frame->pict_type = AV_PICTURE_TYPE_NONE;
        auto at = static_cast<double>(frame->pts)
                  * av_q2d(av_buffersink_get_time_base(vsink_));
        if (req_.progress && total_ > 0 && at - reported_ >= total_ / 200) {
          reported_ = at;
          req_.progress(std::clamp(100.0 * at / total_, 0.0, 100.0));
        }
      }
      auto* enc = video ? venc_.get() : aenc_.get();
      if (frame->pts != AV_NOPTS_VALUE)
        frame->pts = av_rescale_q(
          frame->pts, av_buffersink_get_time_base(video ? vsink_ : asink_),
          enc->time_base);
      auto err = encode(enc, video ? vst_ : ast_, frame.get());
      av_frame_unref(frame.get());
      if (err)
        return err;
    }
  }
  return {};
}

caf::expected<composed_output> compositor::run() {
  prepare_libav();
  st_.deadline = clock_type::now() + req_.timeout;
  st_.cancel = req_.cancel;
  total_ = composition_length(req_);
  for (auto& c : req_.clips) {
    auto s = std::make_unique<source>();
    s->path = c.path;
    s->still = c.still;
    s->still_for = c.end - c.start;
    if (auto err = open(*s, true, !c.still))
      return err;
    if (c.still) {
      sources_.push_back(std::move(s));
      continue;
    }
    s->stop_at = c.end + tail_s
                 + (s->ic->start_time != AV_NOPTS_VALUE
                      ? static_cast<double>(s->ic->start_time) / AV_TIME_BASE
                      : 0.0);
    // Near the window: from the keyframe at or before its start.
    if (c.start > 0) {
      auto ts = static_cast<int64_t>(c.start * AV_TIME_BASE)
                + (s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0);
      avformat_seek_file(s->ic, -1, INT64_MIN, ts, ts, 0);
    }
    sources_.push_back(std::move(s));
  }
  auto extra
    = [&](const std::string& path, bool loop) -> caf::expected<source*> {
    auto s = std::make_unique<source>();
    s->path = path;
    if (auto err = open(*s, false, true))
      return err;
    if (s->adec == nullptr)
      return make_error(errc::bad_media, "an audio source has no sound");
    s->restamp = true;
    s->loop = loop;
    s->audio_until = total_ + 0.1;
    sources_.push_back(std::move(s));
    return sources_.back().get();
  };
  if (!req_.music_path.empty()) {
    auto m = extra(req_.music_path, true);
    if (!m)
      return std::move(m.error());
    music_ = *m;
  }
  if (!req_.voiceover_path.empty()) {
    auto v = extra(req_.voiceover_path, false);
    if (!v)
      return std::move(v.error());
    voice_ = *v;
  }
  for (auto& s : sources_)
    if (auto err = prime(*s))
      return err;
  if (auto err = build_graph())
    return err;
  if (auto err = open_encoders())
    return err;
  // The graph asks; we feed what it asked for most.
  for (;;) {
    if (auto err = check_interrupt())
      return err;
    if (auto err = drain())
      return err;
    if (v_done_ && a_done_)
      break;
    AVFilterContext* best = nullptr;
    source* best_source = nullptr;
    bool best_video = false;
    unsigned most = 0;
    for (auto& s : sources_)
      for (auto video : {true, false}) {
        auto* src = video ? s->vsrc : s->asrc;
        if (src == nullptr || (video ? s->v_closed : s->a_closed))
          continue;
        auto n = av_buffersrc_get_nb_failed_requests(src);
        if (best == nullptr || n > most) {
          best = src;
          best_source = s.get();
          best_video = video;
          most = n;
        }
      }
    if (best == nullptr)
      return make_error(errc::encoder_failed,
                        "the composition's filters stopped before the end");
    if (auto err = feed(*best_source, best_video))
      return err;
  }
  if (int ret = av_write_trailer(mux_.get()); ret < 0)
    return make_error(is_storage_error(ret) ? errc::storage_unavailable
                                            : errc::encoder_failed,
                      "cannot finish the composition: " + av_error_string(ret));
  mux_.reset();
  composed_output out;
  out.path = req_.output_path;
  out.width = venc_->width;
  out.height = venc_->height;
  out.fps = req_.fps;
  out.bytes = file_size(req_.output_path);
  out.duration = media_duration(req_.output_path, st_);
  out.video_codec = "h264";
  out.audio_codec = "aac";
  if (req_.progress)
    req_.progress(100.0);
  files_.keep = true;
  return out;
}

} // namespace

bool from_string(const std::string& name, overlay_position& x) {
  static const std::array<std::pair<const char*, overlay_position>, 9> names{{
    {"top_left", overlay_position::top_left},
    {"top_center", overlay_position::top_center},
    {"top_right", overlay_position::top_right},
    {"center_left", overlay_position::center_left},
    {"center", overlay_position::center},
    {"center_right", overlay_position::center_right},
    {"bottom_left", overlay_position::bottom_left},
    {"bottom_center", overlay_position::bottom_center},
    {"bottom_right", overlay_position::bottom_right},
  }};
  for (auto& [n, v] : names)
    if (name == n) {
      x = v;
      return true;
    }
  return false;
}

double composition_length(const compose_request& req) {
  double total = 0;
  for (auto& c : req.clips)
    total += c.end - c.start;
  return total;
}

std::string check_compose_request(const compose_request& req) {
  if (req.clips.empty() || req.clips.size() > max_clips)
    return "clips: 1 to " + std::to_string(max_clips) + " clips";
  for (size_t i = 0; i < req.clips.size(); ++i) {
    auto& c = req.clips[i];
    auto name = "clips[" + std::to_string(i) + "]";
    if (c.path.empty())
      return name + ": no source";
    if (!(c.start >= 0) || !std::isfinite(c.start))
      return name + ".start must be 0 or more";
    if (!(c.end > c.start) || !std::isfinite(c.end))
      return name + ".end must be greater than its start";
  }
  if (composition_length(req) > max_length_s)
    return "clips: " + num(composition_length(req))
           + " s in all; a composition is 600 s at most";
  for (auto [name, v] :
       {std::pair{"audio.music_volume", req.music_volume},
        std::pair{"audio.voiceover_volume", req.voiceover_volume},
        std::pair{"audio.original_volume", req.original_volume}})
    if (!(v >= 0 && v <= 1))
      return std::string{name} + " must be between 0 and 1";
  if (req.overlays.size() > max_overlays)
    return "overlays: 10 at most";
  for (size_t i = 0; i < req.overlays.size(); ++i) {
    auto& o = req.overlays[i];
    auto name = "overlays[" + std::to_string(i) + "]";
    if (o.text.empty() || o.text.size() > 500)
      return name + ".text must be 1 to 500 characters";
    if (!(o.start >= 0) || !std::isfinite(o.start))
      return name + ".start must be 0 or more";
    if (o.end >= 0 && !(o.end > o.start))
      return name + ".end must be greater than its start";
    if (o.font_size < 8 || o.font_size > 144)
      return name + ".font_size must be 8 to 144";
    if (!is_color(o.color))
      return name + ".font_color must be #RRGGBB";
  }
  if (!req.overlays.empty() && req.font_path.empty())
    return "overlays need a font (compose.font)";
  if (req.width < 16 || req.width > 3840 || req.width % 2 != 0
      || req.height < 16 || req.height > 2160 || req.height % 2 != 0)
    return "output: the size must be even, 16..3840 x 16..2160";
  if (req.fps < 24 || req.fps > 60)
    return "output.fps must be 24 to 60";
  if (req.format != "mp4" && req.format != "mov")
    return "output.format must be mp4 or mov";
  if (req.video_bitrate < 0)
    return "output.bitrate must be positive";
  if (req.output_path.empty())
    return "no output path";
  return {};
}

caf::expected<composed_output> compose_file(const compose_request& req) {
  if (auto why = check_compose_request(req); !why.empty())
    return make_error(errc::invalid_argument, why);
  if (!req.overlays.empty() && file_size(req.font_path) == 0)
    return make_error(errc::invalid_argument,
                      "the overlay font " + req.font_path
                        + " cannot be read (install fonts-dejavu-core or "
                          "set compose.font)");
  compositor c{req};
  return c.run();
}

} // namespace vf::adapters::media
