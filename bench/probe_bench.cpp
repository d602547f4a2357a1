// bench/probe_bench.cpp
//
// Why the media adapter links libavformat instead of running the ffprobe CLI
// like the reference design: measures both on the same files in one run.
// In-process probe_file vs fork/exec of `ffprobe -v quiet -print_format json
// -show_format -show_streams FILE` (posix_spawn, output read from a pipe).

#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* usage = R"(usage: vf-bench-probe [options]

Probes the same media files in-process (vf::adapters::media::probe_file) and
by spawning `ffprobe -v quiet -print_format json -show_format -show_streams
FILE` per file, and prints per-file latency, throughput, the speed-up and
peak RSS.

options:
  --dir DIR               probe the regular files in DIR (default: generate
                          four 2 s clips with ffmpeg into a temporary dir)
  --iterations N          in-process probes per file (default 200)
  --spawn-iterations M    ffprobe runs per file (default 20)
  --help                  show this text
)";

struct options {
  std::string dir;
  int iterations = 200;
  int spawn_iterations = 20;
  bool help = false;
};

bool parse_args(int argc, char** argv, options& opts) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "vf-bench-probe: " << name << " needs a value\n";
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      opts.help = true;
      return true;
    }
    if (arg == "--dir") {
      auto val = next("--dir");
      if (val == nullptr)
        return false;
      opts.dir = val;
    } else if (arg == "--iterations" || arg == "--spawn-iterations") {
      auto val = next(arg.c_str());
      if (val == nullptr)
        return false;
      auto num = std::atoi(val);
      if (num <= 0) {
        std::cerr << "vf-bench-probe: " << arg << " must be > 0\n";
        return false;
      }
      (arg == "--iterations" ? opts.iterations : opts.spawn_iterations) = num;
    } else {
      std::cerr << "vf-bench-probe: unknown argument " << arg << "\n" << usage;
      return false;
    }
  }
  return true;
}

bool sh(const std::string& cmd) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): called before any thread exists.
  auto status = std::system(cmd.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Generates four typical uploads; returns their paths or nothing.
std::vector<std::string> generate_clips(const std::string& dir) {
  const std::string common = "ffmpeg -nostdin -hide_banner -v error -y ";
  const std::string video = "-f lavfi -i testsrc=size=640x360:rate=30:"
                            "duration=2 ";
  const std::string tone = "-f lavfi -i sine=sample_rate=48000:duration=2 ";
  struct clip {
    const char* name;
    std::string args;
  };
  std::vector<clip> clips{
    {"h264-aac.mp4", video + tone
                       + "-c:v libx264 -preset ultrafast -pix_fmt yuv420p "
                         "-c:a aac"},
    {"vp9-opus.webm", video + tone
                        + "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 "
                          "-c:a libopus"},
    {"aac.m4a", tone + "-c:a aac"},
    {"mp3.mp3", tone + "-c:a libmp3lame"},
  };
  std::vector<std::string> paths;
  paths.reserve(clips.size());
  for (auto& c : clips) {
    auto path = dir;
    path += '/';
    path += c.name;
    auto cmd = common;
    cmd += c.args;
    cmd += " '";
    cmd += path;
    cmd += '\'';
    if (!sh(cmd)) {
      std::cerr << "vf-bench-probe: ffmpeg failed to make " << path
                << " (is ffmpeg installed?)\n";
      return {};
    }
    paths.push_back(path);
  }
  return paths;
}

/// One `ffprobe` run: exit status 0 and some output, like the reference
/// design's subprocess call. Adds the child's peak RSS (KiB) to `max_rss`.
bool run_ffprobe(const std::string& path, long& max_rss) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  std::vector<std::string> args{"ffprobe",       "-v",   "quiet",
                                "-print_format", "json", "-show_format",
                                "-show_streams", path};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  auto err
    = posix_spawnp(&pid, "ffprobe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    return false;
  }
  std::string out;
  char buf[8192];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0
         || (n < 0 && errno == EINTR))
    if (n > 0)
      out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) != pid)
    return false;
  max_rss = std::max(max_rss, ru.ru_maxrss);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && !out.empty();
}

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start)
    .count();
}

long self_max_rss_kib() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

std::string human_size(uintmax_t bytes) {
  char buf[32];
  auto kib = static_cast<double>(bytes) / 1024.0;
  if (kib >= 1024.0)
    std::snprintf(buf, sizeof(buf), "%.1f MiB", kib / 1024.0);
  else
    std::snprintf(buf, sizeof(buf), "%.1f KiB", kib);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  if (!parse_args(argc, argv, opts))
    return EXIT_FAILURE;
  if (opts.help)
    return EXIT_SUCCESS;
  std::vector<std::string> files;
  std::string tmp_dir;
  if (opts.dir.empty()) {
    auto tmpl = (fs::temp_directory_path() / "vf-bench-probe-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "vf-bench-probe: mkdtemp failed\n";
      return EXIT_FAILURE;
    }
    tmp_dir = tmpl;
    files = generate_clips(tmp_dir);
  } else {
    std::error_code ec;
    for (auto& entry : fs::directory_iterator{opts.dir, ec})
      if (entry.is_regular_file())
        files.push_back(entry.path().string());
    if (ec)
      std::cerr << "vf-bench-probe: cannot list " << opts.dir << ": "
                << ec.message() << "\n";
    std::sort(files.begin(), files.end());
  }
  auto cleanup = [&] {
    if (!tmp_dir.empty()) {
      std::error_code ec;
      fs::remove_all(tmp_dir, ec);
    }
  };
  // Only files both sides can read: a bench of error paths says nothing.
  std::vector<std::string> usable;
  long child_rss = 0;
  for (auto& file : files) {
    auto res = vf::adapters::media::probe_file(file, 10s);
    if (!res) {
      std::cerr << "skipping " << file << ": "
                << vf::messages::message_of(res.error()) << "\n";
      continue;
    }
    if (!run_ffprobe(file, child_rss)) {
      std::cerr << "skipping " << file << ": ffprobe failed (installed?)\n";
      continue;
    }
    usable.push_back(file);
  }
  if (usable.empty()) {
    std::cerr << "vf-bench-probe: no probe-able files\n";
    cleanup();
    return EXIT_FAILURE;
  }
  // Per file: in-process mean ms, ffprobe mean ms.
  std::vector<double> in_ms(usable.size());
  std::vector<double> ff_ms(usable.size());
  double in_total = 0;
  auto start = clock_type::now();
  for (size_t i = 0; i < usable.size(); ++i) {
    auto t0 = clock_type::now();
    for (int k = 0; k < opts.iterations; ++k)
      if (!vf::adapters::media::probe_file(usable[i], 10s)) {
        std::cerr << "vf-bench-probe: probe_file failed on " << usable[i]
                  << "\n";
        cleanup();
        return EXIT_FAILURE;
      }
    in_ms[i] = ms_since(t0) / opts.iterations;
  }
  in_total = ms_since(start);
  auto self_rss = self_max_rss_kib();
  double ff_total = 0;
  start = clock_type::now();
  for (size_t i = 0; i < usable.size(); ++i) {
    auto t0 = clock_type::now();
    for (int k = 0; k < opts.spawn_iterations; ++k)
      if (!run_ffprobe(usable[i], child_rss)) {
        std::cerr << "vf-bench-probe: ffprobe failed on " << usable[i] << "\n";
        cleanup();
        return EXIT_FAILURE;
      }
    ff_ms[i] = ms_since(t0) / opts.spawn_iterations;
  }
  ff_total = ms_since(start);
  auto n_in = static_cast<double>(usable.size()) * opts.iterations;
  auto n_ff = static_cast<double>(usable.size()) * opts.spawn_iterations;
  auto in_mean = in_total / n_in;
  auto ff_mean = ff_total / n_ff;
  std::printf("probe benchmark: %zu files, %d in-process probes and %d "
              "ffprobe runs per file, sequential, 1 thread\n\n",
              usable.size(), opts.iterations, opts.spawn_iterations);
  std::printf("%-28s %10s %16s %14s %9s\n", "file", "size", "in-process ms",
              "ffprobe ms", "speed-up");
  std::printf("%s\n", std::string(81, '-').c_str());
  for (size_t i = 0; i < usable.size(); ++i) {
    std::error_code ec;
    auto size = fs::file_size(usable[i], ec);
    auto name = fs::path{usable[i]}.filename().string();
    if (name.size() > 28)
      name = name.substr(0, 25) + "...";
    std::printf("%-28s %10s %16.3f %14.3f %8.1fx\n", name.c_str(),
                ec ? "?" : human_size(size).c_str(), in_ms[i], ff_ms[i],
                ff_ms[i] / in_ms[i]);
  }
  std::printf("%s\n", std::string(81, '-').c_str());
  std::printf("%-28s %10s %16.3f %14.3f %8.1fx\n", "mean per file", "", in_mean,
              ff_mean, ff_mean / in_mean);
  std::printf("%-28s %10s %16.1f %14.1f\n\n", "files/s", "", 1000.0 / in_mean,
              1000.0 / ff_mean);
  std::printf("peak RSS: this process %.1f MiB (after all in-process probes); "
              "largest ffprobe child %.1f MiB\n",
              static_cast<double>(self_rss) / 1024.0,
              static_cast<double>(child_rss) / 1024.0);
  cleanup();
  return EXIT_SUCCESS;
}
