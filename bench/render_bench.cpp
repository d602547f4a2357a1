// bench/render_bench.cpp
//
// Why thumbnails and renditions run in process (render_file) instead of
// spawning the ffmpeg CLI like the reference design: measures both on the
// same generated sources in one run.
//
// 1. Thumbnails, ms each: `ffmpeg -ss T -i F -frames:v 1 -vf scale=320:180
//    out.jpg` vs render_file with thumbnails only (exact frame) vs
//    render_file with keyframe_thumbnails, on a small clip and on a long-GOP
//    1080p30 clip (T just before its second keyframe, the worst case for an
//    exact frame).
// 2. Renditions 1080p/720p/480p of the 1080p clip: (a) one ffmpeg per
//    rendition in turn, (b) one ffmpeg with a split filter and three
//    outputs, (c) render_file. Each runs in a child process (render_file in a
//    forked child), so wall time, CPU time (user+sys from wait4) and peak RSS
//    are that work's alone.

#include "child_cost.hpp"
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf/adapters/media/render.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using vf::adapters::media::render_file;
using vf::adapters::media::render_request;
using vf::bench::clock_type;

constexpr const char* usage = R"(usage: vf-bench-render [options]

Generates a small clip and a long-GOP 1080p30 clip with audio (ffmpeg,
-g 250), then prints, side by side: ms per thumbnail for the ffmpeg CLI vs
render_file (exact frame, keyframe-snapped), and wall s, CPU s and peak RSS
for three renditions (1080p/720p/480p, x264 fast CRF 23, AAC 128k,
+faststart) made by three ffmpeg runs, one ffmpeg with a split, and
render_file.

options:
  --quick          short sources (3 s small, 4 s 1080p) and fewer repeats:
                   a smoke run
  --seconds N      length of the 1080p clip (default 60)
  --work DIR       keep the sources in DIR and reuse them on the next run
                   (default: a temporary directory, removed at the end)
  --repeat N       thumbnails per method and clip (default 5)
  --only PART      run one part: thumbnails or renditions
  --help           show this text
)";

struct options {
  bool quick = false;
  int seconds = 60;
  int repeat = 5;
  std::string work;
  std::string only;
  bool help = false;
};

bool parse_args(int argc, char** argv, options& opts) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "vf-bench-render: " << arg << " needs a value\n";
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      opts.help = true;
      return true;
    }
    if (arg == "--quick") {
      opts.quick = true;
    } else if (arg == "--seconds" || arg == "--repeat") {
      auto val = value();
      if (val == nullptr)
        return false;
      int num = std::atoi(val);
      if (num <= 0) {
        std::cerr << "vf-bench-render: " << arg << " must be > 0\n";
        return false;
      }
      (arg == "--seconds" ? opts.seconds : opts.repeat) = num;
    } else if (arg == "--work") {
      auto val = value();
      if (val == nullptr)
        return false;
      opts.work = val;
    } else if (arg == "--only") {
      auto val = value();
      if (val == nullptr)
        return false;
      opts.only = val;
      if (opts.only != "thumbnails" && opts.only != "renditions") {
        std::cerr << "vf-bench-render: --only takes thumbnails or "
                     "renditions, not "
                  << opts.only << "\n";
        return false;
      }
    } else {
      std::cerr << "vf-bench-render: unknown option " << arg << "\n" << usage;
      return false;
    }
  }
  if (opts.quick) {
    opts.seconds = std::min(opts.seconds, 4);
    opts.repeat = std::min(opts.repeat, 2);
  }
  return true;
}

using vf::bench::cost;
using vf::bench::run_ffmpeg;
using vf::bench::run_forked;

bool render_ok(const render_request& req) {
  auto res = render_file(req);
  if (!res) {
    std::cerr << "render_file: " << vf::messages::message_of(res.error())
              << "\n";
    return false;
  }
  return true;
}

std::string fresh_dir(const std::string& parent, const std::string& name) {
  auto dir = parent + "/" + name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  return dir;
}

uintmax_t bytes_in(const std::string& dir) {
  uintmax_t sum = 0;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{dir, ec})
    if (entry.is_regular_file())
      sum += entry.file_size();
  return sum;
}

struct source {
  std::string label;
  std::string path;
  double thumb_at = 1.0;
};

bool make_source(const std::string& path,
                 const std::vector<std::string>& args) {
  if (fs::exists(path))
    return true;
  std::cout << "generating " << path << " ..." << std::endl;
  auto tmp = path + ".tmp.mp4";
  auto full = args;
  full.push_back(tmp);
  if (!run_ffmpeg(full).ok) {
    std::cerr << "vf-bench-render: ffmpeg failed to make " << path << "\n";
    return false;
  }
  fs::rename(tmp, path);
  return true;
}

// -- 1. thumbnails ------------------------------------------------------------

void bench_thumbnails(const std::vector<source>& sources,
                      const std::string& work, int repeat) {
  std::printf("\n1. thumbnails (320x180 box), ms per thumbnail, mean of %d\n",
              repeat);
  std::printf("%-26s %8s %14s %14s %14s\n", "source", "at (s)", "ffmpeg CLI",
              "render exact", "render keyfr.");
  for (auto& src : sources) {
    auto dir = fresh_dir(work, "thumbs");
    char at[32];
    std::snprintf(at, sizeof(at), "%.3f", src.thumb_at);
    double cli_ms = 0;
    bool cli_ok = true;
    for (int i = 0; i < repeat; ++i) {
      auto c = run_ffmpeg({"-ss", at, "-i", src.path, "-frames:v", "1", "-vf",
                           "scale=320:180", dir + "/cli.jpg"});
      cli_ok = cli_ok && c.ok;
      cli_ms += c.wall_s * 1000;
    }
    double in_ms[2] = {0, 0};
    bool in_ok = true;
    for (int keyframe = 0; keyframe < 2; ++keyframe) {
      for (int i = 0; i < repeat; ++i) {
        auto out = fresh_dir(work, "thumbs-in");
        render_request req;
        req.input_path = src.path;
        req.out_dir = out;
        req.thumbnail_at = src.thumb_at;
        req.keyframe_thumbnails = keyframe == 1;
        req.thumbnails = {{"small", 320, 180}};
        auto start = clock_type::now();
        in_ok = render_ok(req) && in_ok;
        in_ms[keyframe] += std::chrono::duration<double, std::milli>(
                             clock_type::now() - start)
                             .count();
      }
    }
    std::printf("%-26s %8s %11.1f ms %11.1f ms %11.1f ms%s\n",
                src.label.c_str(), at, cli_ms / repeat, in_ms[0] / repeat,
                in_ms[1] / repeat,
                cli_ok && in_ok ? "" : "  (some runs FAILED)");
    std::fflush(stdout);
  }
}

// -- 2. renditions ------------------------------------------------------------

std::vector<std::string> encode_args(const std::string& out) {
  return {"-c:v", "libx264",  "-preset",   "fast",       "-crf",
          "23",   "-pix_fmt", "yuv420p",   "-c:a",       "aac",
          "-b:a", "128k",     "-movflags", "+faststart", out};
}

void print_cost(const char* label, const cost& c, uintmax_t bytes) {
  std::printf("%-34s %8.2f s %8.2f s %9.1f MiB %9.1f MiB%s\n", label, c.wall_s,
              c.cpu_s, c.rss_mib, static_cast<double>(bytes) / 1048576.0,
              c.ok ? "" : "  FAILED");
  std::fflush(stdout);
}

void bench_renditions(const source& src, const std::string& work) {
  const std::vector<int> heights{1080, 720, 480};
  std::printf("\n2. renditions 1080p/720p/480p of %s (x264 fast crf 23, "
              "aac 128k, +faststart)\n",
              src.label.c_str());
  std::printf("%-34s %10s %10s %13s %13s\n", "method", "wall", "CPU",
              "peak RSS", "output");
  // (a) one ffmpeg per rendition, one after the other.
  {
    auto dir = fresh_dir(work, "seq");
    cost sum;
    sum.ok = true;
    for (int h : heights) {
      std::vector<std::string> args{"-i", src.path, "-vf",
                                    "scale=-2:" + std::to_string(h)};
      auto enc = encode_args(dir + "/" + std::to_string(h) + "p.mp4");
      args.insert(args.end(), enc.begin(), enc.end());
      auto c = run_ffmpeg(args);
      sum.ok = sum.ok && c.ok;
      sum.wall_s += c.wall_s;
      sum.cpu_s += c.cpu_s;
      sum.rss_mib = std::max(sum.rss_mib, c.rss_mib);
    }
    print_cost("(a) 3 ffmpeg runs in turn", sum, bytes_in(dir));
  }
  // (b) one ffmpeg, one decode, split filter, three outputs (each output
  // still encodes its own audio: the CLI cannot share an encoder).
  {
    auto dir = fresh_dir(work, "split");
    std::string graph = "[0:v]split=3[s0][s1][s2]";
    for (size_t i = 0; i < heights.size(); ++i)
      graph += ";[s" + std::to_string(i) + "]scale=-2:"
               + std::to_string(heights[i]) + "[o" + std::to_string(i) + "]";
    std::vector<std::string> args{"-i", src.path, "-filter_complex", graph};
    for (size_t i = 0; i < heights.size(); ++i) {
      args.insert(args.end(),
                  {"-map", "[o" + std::to_string(i) + "]", "-map", "0:a?"});
      auto enc = encode_args(dir + "/" + std::to_string(heights[i]) + "p.mp4");
      args.insert(args.end(), enc.begin(), enc.end());
    }
    auto c = run_ffmpeg(args);
    print_cost("(b) 1 ffmpeg, split, 3 outputs", c, bytes_in(dir));
  }
  // (c) render_file in a forked child.
  {
    auto dir = fresh_dir(work, "render");
    render_request req;
    req.input_path = src.path;
    req.out_dir = dir;
    for (int h : heights)
      req.renditions.push_back({std::to_string(h) + "p", h});
    req.timeout = std::chrono::hours{2};
    auto c = run_forked([&] { return render_ok(req); });
    print_cost("(c) render_file (forked child)", c, bytes_in(dir));
  }
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  if (!parse_args(argc, argv, opts))
    return EXIT_FAILURE;
  if (opts.help)
    return EXIT_SUCCESS;
  std::string work = opts.work;
  bool temporary = work.empty();
  if (temporary) {
    auto tmpl = (fs::temp_directory_path() / "vf-bench-render-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "vf-bench-render: mkdtemp failed\n";
      return EXIT_FAILURE;
    }
    work = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(work, ec);
  }
  int small_s = opts.quick ? 3 : 10;
  auto secs = std::to_string(opts.seconds);
  auto small_path = work + "/small-360p-" + std::to_string(small_s) + "s.mp4";
  auto long_path = work + "/long-1080p30-g250-" + secs + "s.mp4";
  bool ok
    = make_source(
        small_path,
        {"-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=25:duration=" + std::to_string(small_s),
         "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=48000:duration="
           + std::to_string(small_s),
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k"})
      && make_source(
        long_path,
        {"-f",       "lavfi",
         "-i",       "testsrc2=size=1920x1080:rate=30:duration=" + secs,
         "-f",       "lavfi",
         "-i",       "sine=frequency=440:sample_rate=48000:duration=" + secs,
         "-c:v",     "libx264",
         "-preset",  "veryfast",
         "-g",       "250",
         "-pix_fmt", "yuv420p",
         "-c:a",     "aac",
         "-b:a",     "128k"});
  int status = EXIT_SUCCESS;
  if (ok) {
    // Just before the 1080p clip's second keyframe (250 frames at 30 fps):
    // an exact frame there decodes almost a whole GOP.
    double long_at = opts.seconds > 9 ? 8.0 : opts.seconds / 2.0;
    std::vector<source> sources{
      {"small 640x360 " + std::to_string(small_s) + " s", small_path, 1.0},
      {"1080p30 g250 " + secs + " s", long_path, long_at}};
    std::printf("vf-bench-render: %s, %ld CPUs online\n",
                opts.quick ? "quick run" : "full run",
                ::sysconf(_SC_NPROCESSORS_ONLN));
    if (opts.only != "renditions")
      bench_thumbnails(sources, work, opts.repeat);
    if (opts.only != "thumbnails")
      bench_renditions(sources[1], work);
  } else {
    status = EXIT_FAILURE;
  }
  std::error_code ec;
  if (temporary)
    fs::remove_all(work, ec);
  else
    for (auto* sub : {"thumbs", "thumbs-in", "seq", "split", "render"})
      fs::remove_all(work + "/" + sub, ec);
  return status;
}
