// bench/compose_bench.cpp
//
// A composition made in process (compose_file) vs the same edit as one
// ffmpeg command with -filter_complex, in one run: three 720p clips
// trimmed and concatenated, music mixed in and faded, two text overlays,
// 720p30 H.264 (x264 fast, CRF 23) + AAC 128k. Each runs in a child
// process, so wall time, CPU seconds and peak RSS are that work's alone.

#include "child_cost.hpp"

#include "vf/adapters/media/compose.hpp"
#include "vf/messages/errc.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using vf::adapters::media::compose_clip;
using vf::adapters::media::compose_file;
using vf::adapters::media::compose_overlay;
using vf::adapters::media::compose_request;
using vf::adapters::media::overlay_position;
using vf::bench::cost;

constexpr const char* usage
  = R"(usage: vf-bench-compose [--repeat N] [--work DIR]

Generates three 12 s 1280x720 30 fps clips with sound and 8 s of music
(ffmpeg), then makes the composition clip1[1,7] + clip2[2,8] + clip3[0,6]
(18 s) at 720p30 with the music at 0.5 (looped, faded out over the last
second) and two text overlays, N times each (default 2), as:
  (a) one ffmpeg command (-filter_complex, the same filters), and
  (b) compose_file in a forked child,
and prints wall s, CPU s and peak RSS MiB of each (the best of N).
--work DIR keeps the sources in DIR and reuses them.
)";

constexpr const char* font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

bool make(const std::string& path, std::vector<std::string> args) {
  if (fs::exists(path))
    return true;
  args.push_back(path);
  return vf::bench::run_ffmpeg(args).ok;
}

void print(const char* name, const cost& c) {
  std::printf("%-44s %8.2f %8.2f %10.1f\n", name, c.wall_s, c.cpu_s, c.rss_mib);
}

cost best_of(int n, const std::function<cost()>& run) {
  cost best;
  for (int i = 0; i < n; ++i) {
    auto c = run();
    if (!c.ok)
      return c;
    if (!best.ok || c.wall_s < best.wall_s)
      best = c;
  }
  return best;
}

} // namespace

int main(int argc, char** argv) {
  int repeat = 2;
  std::string work;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      return 0;
    }
    if ((a == "--repeat" || a == "--work") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--work")
        work = v;
      else if ((repeat = std::atoi(v.c_str())) <= 0) {
        std::cerr << "vf-bench-compose: --repeat must be > 0\n";
        return 2;
      }
      continue;
    }
    std::cerr << "vf-bench-compose: unknown option " << a << "\n" << usage;
    return 2;
  }
  bool temporary = work.empty();
  if (temporary) {
    auto tmpl
      = (fs::temp_directory_path() / "vf-bench-compose-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "vf-bench-compose: mkdtemp failed\n";
      return 1;
    }
    work = tmpl;
  }
  fs::create_directories(work);
  if (!fs::exists(font)) {
    std::cerr << "vf-bench-compose: no font at " << font
              << " (apt-get install fonts-dejavu-core)\n";
    return 1;
  }
  std::vector<std::string> clips;
  const char* patterns[] = {"testsrc2", "smptebars", "rgbtestsrc"};
  for (int i = 0; i < 3; ++i) {
    auto path = work + "/clip" + std::to_string(i + 1) + ".mp4";
    std::cout << "generating " << path << " ..." << std::endl;
    if (!make(path,
              {"-f", "lavfi", "-i",
               std::string{patterns[i]} + "=size=1280x720:rate=30:duration=12",
               "-f", "lavfi", "-i",
               "sine=frequency=" + std::to_string(300 + 200 * i)
                 + ":sample_rate=48000:duration=12",
               "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt",
               "yuv420p", "-c:a", "aac", "-shortest"})) {
      std::cerr << "vf-bench-compose: ffmpeg could not make " << path << "\n";
      return 1;
    }
    clips.push_back(path);
  }
  auto music = work + "/music.m4a";
  if (!make(music, {"-f", "lavfi", "-i",
                    "sine=frequency=880:sample_rate=44100:duration=8", "-c:a",
                    "aac"})) {
    std::cerr << "vf-bench-compose: ffmpeg could not make the music\n";
    return 1;
  }
  const double windows[3][2] = {{1, 7}, {2, 8}, {0, 6}};
  const double total = 18;

  // (a) The same filters as compose_file builds, as one ffmpeg command.
  std::string fc;
  for (int i = 0; i < 3; ++i) {
    auto s = std::to_string(windows[i][0]);
    auto e = std::to_string(windows[i][1]);
    auto d = std::to_string(windows[i][1] - windows[i][0]);
    auto n = std::to_string(i);
    fc += "[" + n + ":v]trim=start=" + s + ":end=" + e
          + ",setpts=PTS-STARTPTS,scale=1280:720:force_original_aspect_ratio="
            "decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,"
            "format=yuv420p[v"
          + n + "];[" + n + ":a]atrim=start=" + s + ":end=" + e
          + ",asetpts=PTS-STARTPTS,aresample=48000,aformat=channel_layouts="
            "stereo,apad=whole_dur="
          + d + ",atrim=end=" + d + "[a" + n + "];";
  }
  fc += "[v0][a0][v1][a1][v2][a2]concat=n=3:v=1:a=1[vc][ac];"
        "[3:a]aresample=48000,aformat=channel_layouts=stereo,atrim=end=18,"
        "afade=t=out:st=17:d=1,volume=0.5[m];"
        "[ac][m]amix=inputs=2:duration=first:normalize=0[aout];"
        "[vc]drawtext=fontfile="
        + std::string{font}
        + ":text=Welcome:fontsize=48:fontcolor=white:x=20:y=20:enable="
          "'between(t,0,4)',drawtext=fontfile="
        + font
        + ":text=Thanks:fontsize=36:fontcolor=yellow:x=w-text_w-20:y=h-"
          "text_h-20:enable='between(t,14,18)'[vout]";
  auto ffmpeg_out = work + "/ffmpeg.mp4";
  std::vector<std::string> args;
  for (auto& c : clips)
    args.insert(args.end(), {"-i", c});
  args.insert(args.end(), {"-stream_loop",
                           "-1",
                           "-i",
                           music,
                           "-filter_complex",
                           fc,
                           "-map",
                           "[vout]",
                           "-map",
                           "[aout]",
                           "-c:v",
                           "libx264",
                           "-preset",
                           "fast",
                           "-crf",
                           "23",
                           "-c:a",
                           "aac",
                           "-b:a",
                           "128k",
                           "-movflags",
                           "+faststart",
                           ffmpeg_out});
  std::cout << "running each " << repeat << " times ..." << std::endl;
  auto a = best_of(repeat, [&] { return vf::bench::run_ffmpeg(args); });

  // (b) compose_file.
  compose_request req;
  for (int i = 0; i < 3; ++i)
    req.clips.push_back(compose_clip{clips[i], windows[i][0], windows[i][1]});
  req.music_path = music;
  req.music_volume = 0.5;
  compose_overlay hello;
  hello.text = "Welcome";
  hello.position = overlay_position::top_left;
  hello.start = 0;
  hello.end = 4;
  hello.font_size = 48;
  compose_overlay bye;
  bye.text = "Thanks";
  bye.position = overlay_position::bottom_right;
  bye.start = 14;
  bye.end = total;
  bye.font_size = 36;
  bye.color = "#FFFF00";
  req.overlays = {hello, bye};
  req.font_path = font;
  req.width = 1280;
  req.height = 720;
  req.fps = 30;
  req.output_path = work + "/ours.mp4";
  auto b = best_of(repeat, [&] {
    return vf::bench::run_forked([&] {
      auto out = compose_file(req);
      if (!out)
        std::cerr << "compose_file: " << vf::messages::message_of(out.error())
                  << "\n";
      return static_cast<bool>(out);
    });
  });

  std::printf("\ncomposition: 3 clips of 1280x720 30 fps -> 18 s at 720p30, "
              "music + 2 overlays, x264 fast CRF 23 (best of %d)\n",
              repeat);
  std::printf("%-44s %8s %8s %10s\n", "", "wall s", "CPU s", "peak MiB");
  if (a.ok)
    print("(a) one ffmpeg -filter_complex", a);
  else
    std::printf("(a) one ffmpeg -filter_complex: failed\n");
  if (b.ok)
    print("(b) compose_file (in process)", b);
  else
    std::printf("(b) compose_file: failed\n");
  if (a.ok && b.ok)
    std::printf("ratio (a)/(b) wall: %.2f\n", a.wall_s / b.wall_s);
  if (temporary) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return a.ok && b.ok ? 0 : 1;
}
