// vf/adapters/http/job_feed.cpp

#include "vf/adapters/http/job_feed.hpp"

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/job_progress.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace vf::adapters::http {

namespace {

using messages::errc;
using messages::job_status;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

/// Most journal lines one look fetches (the store's own cap).
constexpr size_t journal_page = 100;

std::string dump(const json& x) {
  // Error messages may hold any bytes: replaced, never an exception.
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool all_hex(std::string_view x) {
  for (char c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

/// One stream: looks at the job every `stream_interval` and sends what
/// changed. Lives while a look is under way or its timer waits.
class job_feed : public std::enable_shared_from_this<job_feed> {
public:
  job_feed(reply r, std::shared_ptr<event_sink> sink,
           std::shared_ptr<void> place, std::string job_id,
           feed_position from)
    : r_(std::move(r)), sink_(std::move(sink)), place_(std::move(place)),
      job_id_(std::move(job_id)), pos_(std::move(from)),
      timer_(r_.services().ioc), last_sent_(clock_type::now()) {
    // nop
  }

  void tick() {
    if (sink_->closed())
      return;
    auto& cfg = r_.state().config;
    auto now = clock_type::now();
    auto stalled = sink_->stalled_since();
    if (stalled != clock_type::time_point{}
        && now - stalled > cfg.stream_stall_timeout) {
      // Too slow a reader: dropped, never buffered for. It may resume.
      sink_->abort();
      return;
    }
    if (now - last_sent_ >= cfg.stream_heartbeat) {
      if (!sink_->heartbeat())
        return;
      last_sent_ = now;
    }
    auto self = shared_from_this();
    r_.ask(r_.state().handles.registry, atoms::get_v, job_id_)
      .then([self](reply&, messages::job& j) { self->read_journal(j); },
            [self](reply&, caf::error& err) { self->failed(err); });
  }

private:
  void read_journal(messages::job& j) {
    auto self = shared_from_this();
    r_.ask(r_.state().handles.registry, atoms::events_v, job_id_, pos_.seq)
      .then(
        [self, j](reply&, std::vector<messages::job_event>& evs) {
          self->on_journal(j, evs);
        },
        [self](reply&, caf::error& err) { self->failed(err); });
  }

  void on_journal(const messages::job& j,
                  const std::vector<messages::job_event>& evs) {
    for (auto& ev : evs) {
      if (!emit(std::to_string(ev.seq), "state", state_event_data(ev)))
        return;
      pos_.seq = ev.seq;
      pos_.sample.clear();
      last_status_ = ev.status;
    }
    if (evs.size() >= journal_page) {
      // More to replay: the next look goes on with it.
      schedule();
      return;
    }
    // The journal was read after the job: its last line is the newest.
    auto status = last_status_ ? *last_status_ : j.status;
    if (messages::is_terminal(status)) {
      finish();
      return;
    }
    if (status == job_status::awaiting_upload) {
      sample_upload(j);
      schedule();
      return;
    }
    sample_progress(j, false);
  }

  void sample_upload(const messages::job& j) {
    auto& uploads = r_.state().config.uploads;
    if (!uploads)
      return;
    auto bytes = uploads->find(j.bucket, j.key);
    if (!bytes)
      return;
    json data{{"bytes", bytes->received},
              {"total", bytes->expected > 0 ? json(bytes->expected)
                                            : json(nullptr)}};
    send_sample("upload", dump(data));
  }

  // Sends the job's progress; `final` sends `done` after it.
  void sample_progress(const messages::job& j, bool final) {
    auto self = shared_from_this();
    r_.ask(r_.state().handles.registry, atoms::attempts_v, j.id)
      .then(
        [self, j, final](reply& r,
                         std::vector<messages::attempt_record>& ledger) {
          if (final || !r.state().handles.dispatcher) {
            self->on_progress(j, ledger, {}, final);
            return;
          }
          r.ask(r.state().handles.dispatcher, atoms::lease_of_v, j.id)
            .then(
              [self, j, ledger](reply&,
                                std::vector<messages::task_progress>& live) {
                self->on_progress(j, ledger, live, false);
              },
              // No live view: the ledger still tells what is done.
              [self, j, ledger](reply&, caf::error&) {
                self->on_progress(j, ledger, {}, false);
              });
        },
        [self](reply&, caf::error& err) { self->failed(err); });
  }

  void on_progress(const messages::job& j,
                   const std::vector<messages::attempt_record>& ledger,
                   const std::vector<messages::task_progress>& live,
                   bool final) {
    auto data = job_progress(j, r_.state().config.pipeline, ledger, live);
    data["status"] = to_string(j.status);
    if (!send_sample("progress", dump(data)))
      return;
    if (!final) {
      schedule();
      return;
    }
    auto id = std::to_string(pos_.seq) + ".done";
    if (emit(id, "done", done_event_data(j)))
      sink_->finish();
  }

  // The job ended: its final progress, then `done`, from a fresh read (the
  // one this look began with may predate the end).
  void finish() {
    auto self = shared_from_this();
    r_.ask(r_.state().handles.registry, atoms::get_v, job_id_)
      .then(
        [self](reply&, messages::job& j) {
          if (!messages::is_terminal(j.status)) {
            // Redriven meanwhile: the journal will say so.
            self->schedule();
            return;
          }
          self->sample_progress(j, true);
        },
        [self](reply&, caf::error& err) { self->failed(err); });
  }

  // Sends a sample unless the client has it already.
  bool send_sample(std::string_view name, const std::string& data) {
    auto id = sample_id(pos_.seq, data);
    if (id == pos_.sample)
      return true;
    if (!emit(id, name, data))
      return false;
    pos_.sample = std::move(id);
    return true;
  }

  bool emit(const std::string& id, std::string_view name,
            const std::string& data) {
    if (!sink_->send(id, name, data))
      return false;
    last_sent_ = clock_type::now();
    return true;
  }

  void failed(const caf::error& err) {
    if (messages::errc_of(err) == errc::not_found) {
      // Deleted while followed: nothing more will happen.
      sink_->finish();
      return;
    }
    // The store or the dispatcher did not answer in time: look again.
    schedule();
  }

  void schedule() {
    if (sink_->closed())
      return;
    timer_.expires_after(r_.state().config.stream_interval);
    timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec)
          self->tick();
      });
  }

  reply r_;
  std::shared_ptr<event_sink> sink_;
  std::shared_ptr<void> place_;
  std::string job_id_;
  feed_position pos_;
  std::optional<job_status> last_status_;
  boost::asio::steady_timer timer_;
  clock_type::time_point last_sent_;
};

} // namespace

std::optional<feed_position> parse_event_id(std::string_view id) {
  feed_position result;
  if (id.empty())
    return result;
  auto dot = id.find('.');
  auto seq = id.substr(0, dot);
  if (seq.empty() || seq.size() > 19)
    return std::nullopt;
  for (char c : seq) {
    if (c < '0' || c > '9')
      return std::nullopt;
    result.seq = result.seq * 10 + static_cast<uint64_t>(c - '0');
  }
  if (dot == std::string_view::npos)
    return result;
  auto tail = id.substr(dot + 1);
  if (tail == "done") {
    result.done = true;
    return result;
  }
  if (tail.size() != 8 || !all_hex(tail))
    return std::nullopt;
  result.sample = std::string{id};
  return result;
}

std::string sample_id(uint64_t seq, std::string_view data) {
  // FNV-1a: tells one sample from the next; not a security boundary.
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", static_cast<unsigned>(h));
  return std::to_string(seq) + "." + hex;
}

std::string state_event_data(const messages::job_event& ev) {
  json x{{"status", to_string(ev.status)},
         {"series", ev.series},
         {"at", iso8601(ev.at)},
         {"error_code", ev.error_code == errc::none
                          ? json(nullptr)
                          : json(to_string(ev.error_code))}};
  return dump(x);
}

std::string done_event_data(const messages::job& j) {
  json x{{"status", to_string(j.status)},
         {"result", j.status == job_status::succeeded
                      ? json("/jobs/" + j.id + "/result")
                      : json(nullptr)}};
  if (j.error_code != errc::none) {
    x["error_code"] = to_string(j.error_code);
    x["error_message"] = j.error_message;
  }
  return dump(x);
}

void follow_job(reply r, std::shared_ptr<event_sink> sink,
                std::shared_ptr<void> place, std::string job_id,
                feed_position from) {
  auto feed = std::make_shared<job_feed>(std::move(r), std::move(sink),
                                         std::move(place), std::move(job_id),
                                         std::move(from));
  feed->tick();
}

} // namespace vf::adapters::http
