// bench/dispatch_bench.cpp — what one lease costs the dispatcher: a worker
// in the same actor system vs a worker on another node over CAF's network
// layer (loopback TCP, plain BASP and mutual TLS). The workers answer at
// once, so the numbers are the dispatch path alone: submit → run → outcome.
//
//   vf-bench-dispatch [--tasks N] [--window W] [--workers K]
//
// Prints, per mode: sequential latency (one task in flight: mean, p50, p99
// in µs) and pipelined throughput (W in flight, tasks/s), plus the actor
// messages and serialized bytes one task costs. Numbers only, no verdicts.

#include "vf/actors/dispatcher.hpp"
#include "vf/messages/register_types.hpp"
#include "vf/messages/type_ids.hpp"
#include "vf/runtime/certs.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/io/middleman.hpp"
#include "caf/openssl/manager.hpp"
#include "caf/openssl/publish.hpp"
#include "caf/openssl/remote_actor.hpp"
#include "caf/scoped_actor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <csignal>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace vf;
using clock_type = std::chrono::steady_clock;

struct options {
  size_t tasks = 20000;
  size_t window = 64;
  size_t workers = 4;
};

/// Answers every run at once with a fixed outcome.
messages::worker_actor::behavior_type echo_worker() {
  return {
    [](atoms::run, messages::task& t) {
      messages::task_outcome out;
      out.job_id = std::move(t.job_id);
      out.lease_id = t.lease_id;
      out.kind = t.kind;
      out.ok = true;
      out.output = R"({"format":{"duration":"1.0"}})";
      out.worker = "bench/echo";
      out.object_version = t.object.version;
      return out;
    },
    [](atoms::cancel, uint64_t) {},
    [](atoms::flush) { return std::vector<messages::task_outcome>{}; },
    [](atoms::progress, uint64_t, uint8_t) {},
  };
}

messages::task make_task(uint64_t lease) {
  messages::task t;
  t.job_id = "2b1f0c4e-8d52-4f7e-9a0c-3c7d2f8e9b11";
  t.kind = messages::task_kind::probe;
  t.object.bucket = "uploads";
  t.object.key = "uploads/2b1f0c4e-8d52-4f7e-9a0c-3c7d2f8e9b11/clip.mp4";
  t.object.version = "00000000000000000042";
  t.object.etag = "9e107d9d372bb6826bd81d3542a419d6";
  t.object.size = 1048576;
  t.filename = "clip.mp4";
  t.lease_id = lease;
  t.timeout_ms = 60000;
  return t;
}

struct node_cfg : caf::actor_system_config {
  node_cfg(bool tls, const std::string& dir, const std::string& name) {
    messages::register_types(*this);
    load<caf::io::middleman>();
    set("scheduler.policy", caf::atom("sharing"));
    if (tls) {
      load<caf::openssl::manager>();
      set("openssl.certificate", dir + "/" + name + ".pem");
      set("openssl.key", dir + "/" + name + ".key");
      set("openssl.cafile", dir + "/ca.pem");
    }
  }
};

struct result {
  double mean_us = 0, p50_us = 0, p99_us = 0, per_s = 0;
};

/// One task in flight at a time, then `window` in flight.
result measure(caf::actor_system& sys, const messages::dispatcher_actor& disp,
               const options& opt, uint64_t& lease) {
  caf::scoped_actor self{sys};
  result r;
  // Warm-up: connections, caches, allocator.
  for (int i = 0; i < 200; ++i)
    self->request(disp, std::chrono::seconds{10}, atoms::submit_v,
                  make_task(++lease))
      .receive([](messages::task_outcome&) {}, [](caf::error&) {});
  size_t seq = std::min<size_t>(opt.tasks, 5000);
  std::vector<double> lat;
  lat.reserve(seq);
  for (size_t i = 0; i < seq; ++i) {
    auto t0 = clock_type::now();
    bool ok = false;
    self->request(disp, std::chrono::seconds{10}, atoms::submit_v,
                  make_task(++lease))
      .receive([&](messages::task_outcome& o) { ok = o.ok; },
               [](caf::error&) {});
    auto us = std::chrono::duration<double, std::micro>(clock_type::now() - t0)
                .count();
    if (!ok) {
      std::cerr << "vf-bench-dispatch: a task failed\n";
      std::exit(1);
    }
    lat.push_back(us);
  }
  std::sort(lat.begin(), lat.end());
  double sum = 0;
  for (auto x : lat)
    sum += x;
  r.mean_us = sum / lat.size();
  r.p50_us = lat[lat.size() / 2];
  r.p99_us = lat[lat.size() * 99 / 100];

  // Pipelined: replies to `send` come back as ordinary messages.
  auto t0 = clock_type::now();
  size_t sent = 0, done = 0;
  for (; sent < std::min(opt.window, opt.tasks); ++sent)
    self->send(disp, atoms::submit_v, make_task(++lease));
  while (done < opt.tasks) {
    self->receive([&](messages::task_outcome&) { ++done; });
    if (sent < opt.tasks) {
      self->send(disp, atoms::submit_v, make_task(++lease));
      ++sent;
    }
  }
  r.per_s = opt.tasks
            / std::chrono::duration<double>(clock_type::now() - t0).count();
  return r;
}

void print(const char* mode, const result& r) {
  std::printf("%-22s %9.1f %9.1f %9.1f %12.0f\n", mode, r.mean_us, r.p50_us,
              r.p99_us, r.per_s);
}

size_t serialized_size(caf::actor_system& sys, const caf::message& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto copy = msg;
  if (auto err = sink(copy))
    return 0;
  return buf.size();
}

/// Spawns `k` echo workers in `sys` and joins them to `disp` from there.
void join_workers(caf::actor_system& sys,
                  const messages::dispatcher_actor& disp, size_t k,
                  const std::string& node) {
  caf::scoped_actor self{sys};
  for (size_t i = 0; i < k; ++i) {
    auto w = sys.spawn(echo_worker);
    messages::worker_info info;
    info.name = node + "/echo-" + std::to_string(i + 1);
    info.node = node;
    info.kinds = {messages::task_kind::probe};
    info.slots = 64;
    self->request(disp, std::chrono::seconds{10}, atoms::join_v, w, info)
      .receive([](bool) {},
               [&](caf::error& e) {
                 std::cerr << "join failed: " << sys.render(e) << "\n";
                 std::exit(1);
               });
  }
}

int run(const options& opt) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  char tmpl[] = "/tmp/vf-bench-dispatch-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string dir = std::string{tmpl} + "/certs";
  runtime::cert_options copts;
  copts.dir = dir;
  copts.nodes = {"coordinator", "worker"};
  std::ostringstream quiet;
  if (auto err = runtime::init_certs(copts, quiet); !err.empty()) {
    std::cerr << "vf-bench-dispatch: " << err << "\n";
    return 1;
  }
  std::printf("vf-bench-dispatch: %zu tasks, window %zu, %zu echo workers, "
              "%u CPUs\n\n",
              opt.tasks, opt.window, opt.workers,
              std::max(1u, std::thread::hardware_concurrency()));
  std::printf("%-22s %9s %9s %9s %12s\n", "mode", "mean µs", "p50 µs",
              "p99 µs", "tasks/s(W)");
  uint64_t lease = 0;
  size_t run_bytes = 0, outcome_bytes = 0;
  {
    node_cfg cfg{false, dir, "coordinator"};
    caf::actor_system sys{cfg};
    auto disp = sys.spawn(actors::dispatcher, actors::dispatcher_config{});
    join_workers(sys, disp, opt.workers, "local");
    print("local (same system)", measure(sys, disp, opt, lease));
    run_bytes = serialized_size(sys, caf::make_message(atoms::run_v,
                                                       make_task(1)));
    messages::task_outcome o;
    o.job_id = make_task(1).job_id;
    o.ok = true;
    o.output = R"({"format":{"duration":"1.0"}})";
    o.worker = "bench/echo";
    o.object_version = make_task(1).object.version;
    outcome_bytes = serialized_size(sys, caf::make_message(o));
    caf::anon_send_exit(disp, caf::exit_reason::user_shutdown);
  }
  for (bool tls : {false, true}) {
    node_cfg ccfg{tls, dir, "coordinator"};
    caf::actor_system coord{ccfg};
    auto disp = coord.spawn(actors::dispatcher, actors::dispatcher_config{});
    auto port = tls ? caf::openssl::publish(disp, 0, "127.0.0.1", true)
                    : coord.middleman().publish(disp, 0, "127.0.0.1", true);
    if (!port) {
      std::cerr << "publish failed: " << coord.render(port.error()) << "\n";
      return 1;
    }
    // The worker node is a second process, as in a real cluster.
    auto child = ::fork();
    if (child == 0) {
      std::string self_exe = "/proc/self/exe";
      std::vector<std::string> args{self_exe, "--node",
                                    std::to_string(*port), "--workers",
                                    std::to_string(opt.workers)};
      if (tls) {
        args.emplace_back("--tls");
        args.emplace_back(dir);
      }
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(self_exe.c_str(), argv.data());
      std::perror("execv");
      std::_Exit(1);
    }
    // Wait until the node's workers joined.
    caf::scoped_actor self{coord};
    auto deadline = clock_type::now() + std::chrono::seconds{20};
    for (;;) {
      uint64_t n = 0;
      self->request(disp, std::chrono::seconds{5}, atoms::stats_v)
        .receive([&](messages::dispatcher_stats& st) { n = st.workers; },
                 [](caf::error&) {});
      if (n >= opt.workers)
        break;
      if (clock_type::now() > deadline) {
        std::cerr << "vf-bench-dispatch: the worker node did not join\n";
        ::kill(child, SIGKILL);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    print(tls ? "remote (loopback, TLS)" : "remote (loopback)",
          measure(coord, disp, opt, lease));
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    caf::anon_send_exit(disp, caf::exit_reason::user_shutdown);
  }
  std::printf(
    "\nper task: 4 actor messages (submit, run, outcome to the dispatcher, "
    "outcome to the requester);\nremote: 2 of them cross the network — run "
    "%zu bytes + outcome %zu bytes serialized (plus BASP headers)\n",
    run_bytes, outcome_bytes);
  std::string rm = std::string{"rm -rf "} + tmpl;
  if (std::system(rm.c_str()) != 0)
    std::cerr << "could not remove " << tmpl << "\n";
  return 0;
}

/// The worker node process: joins `k` echo workers, runs until SIGTERM.
int node_main(uint16_t port, size_t k, const std::string& tls_dir) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  bool tls = !tls_dir.empty();
  node_cfg cfg{tls, tls_dir, "worker"};
  caf::actor_system sys{cfg};
  auto remote
    = tls ? caf::openssl::remote_actor<messages::dispatcher_actor>(
              sys, "127.0.0.1", port)
          : sys.middleman().remote_actor<messages::dispatcher_actor>(
              "127.0.0.1", port);
  if (!remote) {
    std::cerr << "connect failed: " << sys.render(remote.error()) << "\n";
    return 1;
  }
  join_workers(sys, *remote, k, "remote");
  int sig = 0;
  sigwait(&sigs, &sig);
  std::_Exit(0); // The coordinator is gone or going: no orderly goodbye.
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 5 && std::string{argv[1]} == "--node")
    return node_main(static_cast<uint16_t>(std::atoi(argv[2])),
                     static_cast<size_t>(std::atoll(argv[4])),
                     argc >= 7 ? argv[6] : "");
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](size_t& out) {
      if (i + 1 >= argc || std::atoll(argv[i + 1]) <= 0) {
        std::cerr << "vf-bench-dispatch: " << a
                  << " needs a positive number\n";
        std::exit(2);
      }
      out = static_cast<size_t>(std::atoll(argv[++i]));
    };
    if (a == "-h" || a == "--help") {
      std::cout << "Usage: vf-bench-dispatch [--tasks N] [--window W] "
                   "[--workers K]\n\nMeasures one lease through the "
                   "dispatcher to a worker in the same actor system and on "
                   "another node\n(loopback, plain and TLS). Workers answer "
                   "at once; numbers only.\n";
      return 0;
    }
    if (a == "--tasks")
      next(opt.tasks);
    else if (a == "--window")
      next(opt.window);
    else if (a == "--workers")
      next(opt.workers);
    else {
      std::cerr << "vf-bench-dispatch: unknown option " << a
                << " (see --help)\n";
      return 2;
    }
  }
  return run(opt);
}
