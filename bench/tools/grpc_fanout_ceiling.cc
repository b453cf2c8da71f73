// grpc_fanout_ceiling: the S6 peer. A minimal gRPC server-stream that speaks
// proto/switchboard/v1/agent.proto with the same flow control as the router (a window of
// max_in_flight unacked deliveries per stream, one write in flight, writes coalesced with gRPC's
// buffer hint while more can follow) but no store, no routing and no leases: the ceiling that gRPC
// itself sets for fan-out on this machine. An agent that sends Hello.batches gets the protocol's
// batching, like the router's: each write carries all the window allows (up to 256 deliveries)
// as one DeliveryBatch, and an Ack's more_delivery_ids open the window too.
//
//   grpc_fanout_ceiling --port-file PATH --streams N --events M [--raw-bytes B]
//
// Once N streams have sent Hello, every stream is sent the same M events (distinct ids, a raw
// payload of B bytes so a delivery is the size of a router delivery) and its acks open the window.
// Runs until SIGTERM / SIGKILL; the harness measures deliveries/s at bench_agent and this
// process's CPU time from /proc.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace {

using switchboard::v1::AgentService;
using switchboard::v1::SubscribeRequest;
using switchboard::v1::SubscribeResponse;

class Service;

class StreamReactor : public grpc::ServerBidiReactor<SubscribeRequest, SubscribeResponse> {
 public:
  explicit StreamReactor(Service* service) : service_(service) { StartRead(&request_); }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  // Starts the stream's deliveries (all streams are there).
  void Go();

 private:
  // REQUIRES: mu_ held. Starts the next write if the window and the stream allow it.
  void MaybeSendLocked();

  Service* const service_;
  SubscribeRequest request_;
  SubscribeResponse response_;
  std::mutex mu_;
  bool writing_ = false;
  bool going_ = false;
  bool finished_ = false;
  uint32_t window_ = 64;
  bool batches_ = false;  // the agent sent Hello.batches
  uint32_t in_flight_ = 0;
  int64_t sent_ = 0;
};

class Service final : public AgentService::CallbackService {
 public:
  Service(int streams, int64_t events, size_t raw_bytes) : streams_(streams), events_(events) {
    event_.set_source("bench");
    event_.set_provider("resend");
    event_.set_type(switchboard::v1::EVENT_TYPE_DELIVERED);
    event_.set_provider_event_type("email.delivered");
    event_.set_recipient("rcpt@example.org");
    event_.set_recipient_key("rcpt@example.org");
    event_.set_sender("bench@example.com");
    event_.set_message_id("bench-message");
    event_.set_raw(std::string(raw_bytes, 'x'));
    event_.set_raw_format(switchboard::v1::RAW_FORMAT_JSON);
  }

  grpc::ServerBidiReactor<SubscribeRequest, SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* /*context*/) override {
    return new StreamReactor(this);
  }

  // Called on the first Hello of a stream: when the N-th arrives, every stream starts.
  void Ready(StreamReactor* reactor) {
    std::vector<StreamReactor*> start;
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.insert(reactor);
      if (++hellos_ == streams_) start.assign(live_.begin(), live_.end());
      if (hellos_ > streams_) start.push_back(reactor);
    }
    for (StreamReactor* r : start) r->Go();
  }
  void Gone(StreamReactor* reactor) {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(reactor);
  }

  void Fill(int64_t index, switchboard::v1::Delivery& delivery) const {
    *delivery.mutable_event() = event_;
    delivery.mutable_event()->set_id(absl::StrCat("ceiling-", index));
    delivery.set_delivery_id(absl::StrCat(index));
    delivery.set_attempt(1);
    delivery.add_matched_rules("all");
  }
  int64_t events() const { return events_; }

 private:
  const int streams_;
  const int64_t events_;
  switchboard::v1::EmailEvent event_;
  std::mutex mu_;
  int hellos_ = 0;
  std::set<StreamReactor*> live_;  // registry: Gone() runs before a reactor deletes itself
};

void StreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
    return;
  }
  if (request_.has_hello()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (request_.hello().max_in_flight() > 0) window_ = request_.hello().max_in_flight();
      batches_ = request_.hello().batches();
      writing_ = true;
      response_.Clear();
      response_.mutable_welcome()->set_max_in_flight(window_);
      response_.mutable_welcome()->set_batches(true);
      StartWrite(&response_);
    }
    service_->Ready(this);
  } else if (request_.has_ack()) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint32_t acked = 1 + static_cast<uint32_t>(request_.ack().more_delivery_ids_size());
    in_flight_ = in_flight_ > acked ? in_flight_ - acked : 0;
    MaybeSendLocked();
  }
  StartRead(&request_);
}

void StreamReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (ok) MaybeSendLocked();
}

void StreamReactor::Go() {
  std::lock_guard<std::mutex> lock(mu_);
  going_ = true;
  MaybeSendLocked();
}

void StreamReactor::MaybeSendLocked() {
  if (!going_ || writing_ || finished_ || in_flight_ >= window_ || sent_ >= service_->events()) {
    return;
  }
  response_.Clear();
  if (batches_) {
    constexpr uint32_t kMaxBatchDeliveries = 256;  // the router's limit
    auto& batch = *response_.mutable_deliveries();
    while (in_flight_ < window_ && sent_ < service_->events() &&
           static_cast<uint32_t>(batch.deliveries_size()) < kMaxBatchDeliveries) {
      service_->Fill(sent_++, *batch.add_deliveries());
      ++in_flight_;
    }
  } else {
    service_->Fill(sent_++, *response_.mutable_delivery());
    ++in_flight_;
  }
  writing_ = true;
  // The router's write coalescing (router/delivery/agent_service.cc): while the next delivery
  // can follow at once (window open, events left), gRPC may keep this one in its buffer, so a
  // burst leaves in a few sendmsg calls. The last write before the window closes flushes them.
  if (in_flight_ < window_ && sent_ < service_->events()) {
    StartWrite(&response_, grpc::WriteOptions().set_buffer_hint());
  } else {
    StartWrite(&response_);
  }
}

void StreamReactor::OnDone() {
  service_->Gone(this);
  delete this;
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file;
  int streams = 1;
  int64_t events = 1000;
  size_t raw_bytes = 1536;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--port-file") {
      port_file = value;
    } else if (flag == "--streams") {
      ok = absl::SimpleAtoi(value, &streams);
    } else if (flag == "--events") {
      ok = absl::SimpleAtoi(value, &events);
    } else if (flag == "--raw-bytes") {
      ok = absl::SimpleAtoi(value, &raw_bytes);
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "usage: grpc_fanout_ceiling --port-file PATH --streams N --events M"
                   " [--raw-bytes B]\n";
      return 2;
    }
  }
  Service service(streams, events, raw_bytes);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "grpc_fanout_ceiling: cannot listen\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  server->Wait();
  return 0;
}
