// bench_agent: many agent streams in one process, for the benchmark scenarios S5 (end-to-end
// latency), S6 (fan-out) and S7 (idle streams). Raw gRPC callback API against
// proto/switchboard/v1/agent.proto: one ClientBidiReactor per stream, no thread per stream.
//
//   bench_agent --target HOST:PORT --token T --names a0,a1 [--streams-per-name K]
//               [--streams-per-channel C] [--max-in-flight N] [--mode ack|idle]
//               [--ready-file PATH] [--timeout-s S] [--idle-exit-s S] [--batches on|off]
//
// Each stream authenticates with "Bearer <T>-<name>" (bench/run.py configures those tokens).
// ack mode: acks every delivery at once and records, per delivery, the latency from the event's
// occurred_at (the send time the load generator wrote into the body) to its receipt here. It
// stops when stdin gives "expect N" and N distinct (name, event id) deliveries arrived, or when
// nothing arrived for --idle-exit-s after stdin said "expect N" or "drain" (drain: the caller
// does not know N yet and reads the router's store after the queues ran dry), or at --timeout-s.
// --batches on (the default) asks for the protocol's batching (Hello.batches): deliveries may come
// in a DeliveryBatch, and acks made while a write is in flight leave together in one Ack, as the
// SDKs do; off sends one Ack per delivery and receives single deliveries.
// idle mode: connects, waits for every Welcome, writes the ready file, then waits for stdin EOF.
// Prints one JSON object on stdout: streams, welcomed, deliveries, distinct, redeliveries, per
// name distinct counts, latency percentiles in microseconds, first/last receipt (Unix µs), and
// this process's CPU time, so the harness can tell when the agent side was saturated.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace {

using switchboard::v1::AgentService;
using switchboard::v1::SubscribeRequest;
using switchboard::v1::SubscribeResponse;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string target = "127.0.0.1:50051";
  std::string token;
  std::vector<std::string> names;
  int streams_per_name = 1;
  int streams_per_channel = 1;
  uint32_t max_in_flight = 64;
  std::string mode = "ack";
  std::string ready_file;
  double timeout_s = 120;
  double idle_exit_s = 5;
  bool batches = true;
};

std::atomic<int64_t> g_distinct{0};
std::atomic<int64_t> g_last_receipt{0};
std::atomic<int> g_welcomed{0};
std::atomic<int> g_ended{0};

// One agent stream. Owns its state; the process keeps every Stream alive until exit, so the
// reactor never outlives it. Reactions only queue work and start the next read or write.
class Stream : public grpc::ClientBidiReactor<SubscribeRequest, SubscribeResponse> {
 public:
  Stream(AgentService::Stub* stub, const Options& options, std::string name, bool ack)
      : name_(std::move(name)), ack_(ack), ask_batches_(options.batches) {
    // One token per agent name, as the router's config wants: "<token>-<name>".
    context_.AddMetadata("authorization", "Bearer " + options.token + "-" + name_);
    stub->async()->Subscribe(&context_, this);
    SubscribeRequest hello;
    hello.mutable_hello()->set_agent(name_);
    hello.mutable_hello()->set_max_in_flight(options.max_in_flight);
    hello.mutable_hello()->set_instance("bench");
    hello.mutable_hello()->set_batches(options.batches);
    Enqueue(std::move(hello));
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.has_welcome()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        batches_ = ask_batches_ && response_.welcome().batches();
      }
      g_welcomed.fetch_add(1);
    } else if (response_.has_delivery()) {
      const int64_t now = NowMicros();
      std::lock_guard<std::mutex> lock(mu_);
      ReceiveLocked(response_.delivery(), now);
    } else if (response_.has_deliveries()) {
      const int64_t now = NowMicros();
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& d : response_.deliveries().deliveries()) ReceiveLocked(d, now);
    }
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writes_.pop_front();
    if (ok && !writes_.empty()) StartWrite(&writes_.front());
  }

  void OnDone(const grpc::Status& /*status*/) override { g_ended.fetch_add(1); }

  const std::string& name() const { return name_; }
  // REQUIRES: no more reactions running (after Cancel and OnDone, or for a final snapshot).
  std::mutex mu_;
  const absl::flat_hash_set<std::string>& seen() const { return seen_; }
  const std::vector<int64_t>& latencies_us() const { return latencies_us_; }
  int64_t deliveries() const { return deliveries_; }
  int64_t first_receipt() const { return first_receipt_; }

 private:
  void ReceiveLocked(const switchboard::v1::Delivery& d, int64_t now) {
    ++deliveries_;
    const auto& at = d.event().occurred_at();
    if (seen_.insert(d.event().id()).second) {
      latencies_us_.push_back(now - (at.seconds() * 1000000 + at.nanos() / 1000));
      first_receipt_ = first_receipt_ == 0 ? now : first_receipt_;
      g_distinct.fetch_add(1, std::memory_order_relaxed);
    }
    g_last_receipt.store(now, std::memory_order_relaxed);
    if (!ack_) return;
    // With batches, an Ack still queued behind the write in flight takes this id along.
    if (batches_ && writes_.size() >= 2 && writes_.back().has_ack()) {
      writes_.back().mutable_ack()->add_more_delivery_ids(d.delivery_id());
      return;
    }
    SubscribeRequest ack;
    ack.mutable_ack()->set_delivery_id(d.delivery_id());
    EnqueueLocked(std::move(ack));
  }

  void Enqueue(SubscribeRequest req) {
    std::lock_guard<std::mutex> lock(mu_);
    EnqueueLocked(std::move(req));
  }
  // At most one write in flight: the head of writes_ is the one being written.
  void EnqueueLocked(SubscribeRequest req) {
    writes_.push_back(std::move(req));
    if (writes_.size() == 1) StartWrite(&writes_.front());
  }

  const std::string name_;
  const bool ack_;
  const bool ask_batches_;
  bool batches_ = false;  // under mu_: asked for and granted (Welcome.batches)
  grpc::ClientContext context_;
  SubscribeResponse response_;
  std::deque<SubscribeRequest> writes_;
  absl::flat_hash_set<std::string> seen_;
  std::vector<int64_t> latencies_us_;
  int64_t deliveries_ = 0;
  int64_t first_receipt_ = 0;
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--target") {
      o.target = value;
    } else if (flag == "--token") {
      o.token = value;
    } else if (flag == "--names") {
      o.names = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else if (flag == "--streams-per-name") {
      if (!absl::SimpleAtoi(value, &o.streams_per_name)) return false;
    } else if (flag == "--streams-per-channel") {
      if (!absl::SimpleAtoi(value, &o.streams_per_channel)) return false;
    } else if (flag == "--max-in-flight") {
      if (!absl::SimpleAtoi(value, &o.max_in_flight)) return false;
    } else if (flag == "--mode") {
      o.mode = value;
    } else if (flag == "--ready-file") {
      o.ready_file = value;
    } else if (flag == "--timeout-s") {
      if (!absl::SimpleAtod(value, &o.timeout_s)) return false;
    } else if (flag == "--idle-exit-s") {
      if (!absl::SimpleAtod(value, &o.idle_exit_s)) return false;
    } else if (flag == "--batches") {
      if (value != "on" && value != "off") return false;
      o.batches = value == "on";
    } else {
      return false;
    }
  }
  return (argc % 2) == 1 && !o.names.empty() && (o.mode == "ack" || o.mode == "idle") &&
         o.streams_per_name > 0 && o.streams_per_channel > 0;
}

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return -1;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::cerr << "usage: bench_agent --target HOST:PORT --token T --names a,b [--streams-per-name"
                 " K] [--streams-per-channel C] [--max-in-flight N] [--mode ack|idle]"
                 " [--ready-file PATH] [--timeout-s S] [--idle-exit-s S] [--batches on|off]\n";
    return 2;
  }
  const int64_t start_us = NowMicros();
  const bool ack = o.mode == "ack";
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<AgentService::Stub>> stubs;
  std::vector<std::unique_ptr<Stream>> streams;
  int total = static_cast<int>(o.names.size()) * o.streams_per_name;
  for (int i = 0; i < total; ++i) {
    if (i % o.streams_per_channel == 0) {
      grpc::ChannelArguments args;
      // A distinct channel really opens its own connection, like a separate agent process.
      args.SetInt("bench_channel_index", i);
      channels.push_back(
          grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args));
      stubs.push_back(AgentService::NewStub(channels.back()));
    }
    const std::string& name = o.names[static_cast<size_t>(i) % o.names.size()];
    streams.push_back(std::make_unique<Stream>(stubs.back().get(), o, name, ack));
  }

  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  while (g_welcomed.load() + g_ended.load() < total &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t welcomed_us = NowMicros();
  if (!o.ready_file.empty()) {
    std::ofstream(o.ready_file + ".tmp") << "{\"welcomed\": " << g_welcomed.load() << "}\n";
    std::rename((o.ready_file + ".tmp").c_str(), o.ready_file.c_str());
  }

  // stdin: "expect N" (ack mode), EOF ends idle mode (and ack mode without an expectation).
  std::atomic<int64_t> expect{-1};
  std::atomic<bool> drain{false};
  std::atomic<bool> stdin_closed{false};
  std::thread input([&] {
    std::string word;
    int64_t n = 0;
    while (std::cin >> word) {
      if (word == "expect" && std::cin >> n) expect.store(n);
      if (word == "drain") drain.store(true);
    }
    stdin_closed.store(true);
  });
  input.detach();

  int64_t expect_seen_at = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (g_ended.load() == total) break;
    if (!ack) {
      if (stdin_closed.load()) break;
      continue;
    }
    int64_t want = expect.load();
    if (want >= 0 || drain.load()) {
      if (want >= 0 && g_distinct.load() >= want) break;
      int64_t now = NowMicros();
      if (expect_seen_at == 0) expect_seen_at = now;
      int64_t last = std::max(g_last_receipt.load(), expect_seen_at);
      if (now - last > static_cast<int64_t>(o.idle_exit_s * 1e6)) break;
    } else if (stdin_closed.load()) {
      break;
    }
  }
  const double cpu_s = CpuSeconds();
  const int64_t end_us = NowMicros();

  int64_t deliveries = 0;
  int64_t first = 0;
  std::vector<int64_t> latencies;
  std::map<std::string, absl::flat_hash_set<std::string>> per_name;
  for (auto& s : streams) {
    std::lock_guard<std::mutex> lock(s->mu_);
    deliveries += s->deliveries();
    if (s->first_receipt() != 0 && (first == 0 || s->first_receipt() < first)) {
      first = s->first_receipt();
    }
    latencies.insert(latencies.end(), s->latencies_us().begin(), s->latencies_us().end());
    auto& set = per_name[s->name()];
    set.insert(s->seen().begin(), s->seen().end());
  }
  int64_t distinct = 0;
  std::string names_json;
  for (const auto& [name, set] : per_name) {
    distinct += static_cast<int64_t>(set.size());
    names_json += (names_json.empty() ? "\"" : ",\"") + name + "\":" + std::to_string(set.size());
  }
  size_t samples = latencies.size();
  int64_t p50 = Percentile(latencies, 50);
  int64_t p99 = Percentile(latencies, 99);
  int64_t p999 = Percentile(latencies, 99.9);
  int64_t max = latencies.empty() ? -1 : *std::max_element(latencies.begin(), latencies.end());
  std::printf(
      "{\"streams\":%d,\"welcomed\":%d,\"ended\":%d,\"deliveries\":%lld,\"distinct\":%lld,"
      "\"redeliveries\":%lld,\"per_name\":{%s},\"latency_samples\":%zu,\"lat_p50_us\":%lld,"
      "\"lat_p99_us\":%lld,\"lat_p999_us\":%lld,\"lat_max_us\":%lld,\"first_receipt_us\":%lld,"
      "\"last_receipt_us\":%lld,\"start_us\":%lld,\"welcomed_us\":%lld,\"end_us\":%lld,"
      "\"cpu_s\":%.3f}\n",
      total, g_welcomed.load(), g_ended.load(), static_cast<long long>(deliveries),
      static_cast<long long>(distinct), static_cast<long long>(deliveries - distinct),
      names_json.c_str(), samples, static_cast<long long>(p50), static_cast<long long>(p99),
      static_cast<long long>(p999), static_cast<long long>(max), static_cast<long long>(first),
      static_cast<long long>(g_last_receipt.load()), static_cast<long long>(start_us),
      static_cast<long long>(welcomed_us), static_cast<long long>(end_us), cpu_s);
  std::fflush(stdout);
  // Exit without tearing down live reactors: the process is done, the kernel closes the sockets.
  std::_Exit(0);
}
