#include "switchboard/agent.h"

#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace switchboard::sdk {
namespace {

// A session that closed its stream on Stop() waits this long for the router to end it.
constexpr absl::Duration kCloseGrace = absl::Seconds(5);
// gRPC message limit both ways, the router's own (router/app/app.cc kMaxGrpcMessageBytes).
constexpr int kMaxMessageBytes = 16 << 20;

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::IDivDuration(d, absl::Nanoseconds(1), &d)));
}

bool RetryCannotHelp(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::INVALID_ARGUMENT;
}

}  // namespace

// One connection: a reader thread feeds a queue, `max_in_flight` workers run handlers and write
// Ack/Nack, and the thread in Run() supervises (extends leases, closes on Stop).
struct Session {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream;
  absl::Duration ack_deadline;
  bool batches = false;  // Welcome.batches: DeliveryBatch may arrive, one Ack may carry many ids

  absl::Mutex write_mu;  // one Write at a time (gRPC allows one writer and one reader)
  // Acks waiting for the writer (batches only); lock order: write_mu before acks_mu.
  absl::Mutex acks_mu;
  std::vector<std::string> pending_acks ABSL_GUARDED_BY(acks_mu);

  struct Received {
    v1::Delivery delivery;
    absl::Time received_at;
  };
  absl::Mutex mu;
  std::deque<Received> queue ABSL_GUARDED_BY(mu);
  // Handlers running: delivery_id -> when to send the next Extend.
  std::map<std::string, absl::Time> running ABSL_GUARDED_BY(mu);
  bool reader_done ABSL_GUARDED_BY(mu) = false;
  bool stop_requested ABSL_GUARDED_BY(mu) = false;
  bool closing ABSL_GUARDED_BY(mu) = false;  // no handler starts any more

  bool Write(const v1::SubscribeRequest& request) {
    absl::MutexLock lock(&write_mu);
    return stream->Write(request);
  }

  // Acks `delivery_id`. With batches, ids acked while another worker is writing wait in
  // pending_acks and leave together in the next Ack, so a burst costs a few writes, not one each.
  bool Ack(std::string delivery_id) {
    if (!batches) {
      v1::SubscribeRequest request;
      request.mutable_ack()->set_delivery_id(std::move(delivery_id));
      return Write(request);
    }
    {
      absl::MutexLock lock(&acks_mu);
      pending_acks.push_back(std::move(delivery_id));
    }
    absl::MutexLock lock(&write_mu);
    std::vector<std::string> ids;
    {
      absl::MutexLock acks_lock(&acks_mu);
      ids.swap(pending_acks);
    }
    if (ids.empty()) return true;  // a writer before us took ours along
    v1::SubscribeRequest request;
    v1::Ack& ack = *request.mutable_ack();
    ack.set_delivery_id(std::move(ids.front()));
    for (size_t i = 1; i < ids.size(); ++i) ack.add_more_delivery_ids(std::move(ids[i]));
    return stream->Write(request);
  }
};

class Agent::Impl {
 public:
  explicit Impl(AgentOptions options) : options_(std::move(options)) {}

  void On(v1::EventType type, Handler handler) {
    absl::MutexLock lock(&mu_);
    handlers_[type] = std::move(handler);
  }

  absl::Status On(std::string_view type, Handler handler) {
    if (type == "*") {
      absl::MutexLock lock(&mu_);
      default_handler_ = std::move(handler);
      return absl::OkStatus();
    }
    v1::EventType parsed;
    const std::string enum_name = absl::AsciiStrToUpper(absl::StrCat("EVENT_TYPE_", std::string(type)));
    if (type.empty() || absl::AsciiStrToLower(std::string(type)) != std::string(type) ||
        !v1::EventType_Parse(enum_name, &parsed) || parsed == v1::EVENT_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("unknown event type '", std::string(type), "'"));
    }
    On(parsed, std::move(handler));
    return absl::OkStatus();
  }

  absl::Status Run() {
    if (options_.target.empty() || options_.agent.empty() || options_.max_in_flight == 0 ||
        options_.reconnect_backoff_min <= absl::ZeroDuration() ||
        options_.reconnect_backoff_max < options_.reconnect_backoff_min) {
      return absl::InvalidArgumentError(
          "AgentOptions: target and agent are required, max_in_flight >= 1, "
          "0 < reconnect_backoff_min <= reconnect_backoff_max");
    }
    // The router sends deliveries of up to 16 MiB (one event with its raw bytes); gRPC's client
    // default would refuse anything above 4 MiB.
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    channel_args.SetMaxSendMessageSize(kMaxMessageBytes);
    auto stub = v1::AgentService::NewStub(grpc::CreateCustomChannel(
        options_.target, grpc::InsecureChannelCredentials(), channel_args));
    std::mt19937_64 random(std::random_device{}());
    absl::Duration backoff = options_.reconnect_backoff_min;
    while (!stopped()) {
      bool welcomed = false;
      const grpc::Status status = RunSession(*stub, &welcomed);
      if (stopped()) break;
      if (RetryCannotHelp(status.error_code())) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            status.error_message());
      }
      if (welcomed) backoff = options_.reconnect_backoff_min;
      // Full jitter over the upper half, so a fleet restarting together spreads out.
      const double factor = std::uniform_real_distribution<double>(0.5, 1.0)(random);
      spdlog::warn("switchboard stream ended ({}: {}); reconnecting in {}",
                   static_cast<int>(status.error_code()), status.error_message(),
                   absl::FormatDuration(backoff * factor));
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopped_), backoff * factor);
      backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
    }
    return absl::OkStatus();
  }

  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    if (session_ != nullptr) {
      absl::MutexLock session_lock(&session_->mu);
      session_->stop_requested = true;
    }
  }

 private:
  bool stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

  grpc::Status RunSession(v1::AgentService::Stub& stub, bool* welcomed) {
    Session session;
    session.context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return grpc::Status::CANCELLED;
      session_ = &session;
    }
    grpc::Status status = Subscribe(stub, session, welcomed);
    absl::MutexLock lock(&mu_);
    session_ = nullptr;
    return status;
  }

  grpc::Status Subscribe(v1::AgentService::Stub& stub, Session& session, bool* welcomed) {
    session.stream = stub.Subscribe(&session.context);
    v1::SubscribeRequest hello;
    hello.mutable_hello()->set_agent(options_.agent);
    hello.mutable_hello()->set_max_in_flight(options_.max_in_flight);
    hello.mutable_hello()->set_instance(options_.instance);
    hello.mutable_hello()->set_batches(true);
    v1::SubscribeResponse welcome;
    // A failed Write or Read means the router ended the stream: Finish has its status.
    const bool started = session.stream->Write(hello) && session.stream->Read(&welcome);
    if (!started || !welcome.has_welcome()) {
      if (started) session.context.TryCancel();  // not the protocol: drop this connection
      v1::SubscribeResponse ignored;
      while (session.stream->Read(&ignored)) {
      }
      grpc::Status status = session.stream->Finish();
      if (status.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no Welcome");
      return status;
    }
    *welcomed = true;
    session.ack_deadline = absl::Seconds(welcome.welcome().ack_deadline().seconds()) +
                           absl::Nanoseconds(welcome.welcome().ack_deadline().nanos());
    if (session.ack_deadline <= absl::ZeroDuration()) session.ack_deadline = absl::Seconds(30);
    session.batches = welcome.welcome().batches();

    std::thread reader([&session] {
      v1::SubscribeResponse response;
      while (session.stream->Read(&response)) {
        const absl::Time now = absl::Now();
        if (response.has_delivery()) {
          absl::MutexLock lock(&session.mu);
          session.queue.push_back({std::move(*response.mutable_delivery()), now});
        } else if (response.has_deliveries()) {
          absl::MutexLock lock(&session.mu);
          for (v1::Delivery& delivery : *response.mutable_deliveries()->mutable_deliveries()) {
            session.queue.push_back({std::move(delivery), now});
          }
        }
      }
      absl::MutexLock lock(&session.mu);
      session.reader_done = true;
    });
    std::vector<std::thread> workers;
    for (uint32_t i = 0; i < options_.max_in_flight; ++i) {
      workers.emplace_back([this, &session] { Work(session); });
    }
    Supervise(session);
    {
      absl::MutexLock lock(&session.mu);
      session.closing = true;
    }
    for (auto& worker : workers) worker.join();
    reader.join();
    return session.stream->Finish();
  }

  // Until the stream ends: extends the leases of long-running handlers, and on Stop() half-closes
  // the stream once running handlers are done (the router then ends it).
  void Supervise(Session& session) {
    const absl::Duration tick =
        std::clamp(session.ack_deadline / 4, absl::Milliseconds(5), absl::Seconds(1));
    std::optional<absl::Time> cancel_at;
    while (true) {
      std::vector<std::string> to_extend;
      bool half_close = false;
      {
        absl::MutexLock lock(&session.mu);
        auto wake = [&session, &cancel_at]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
          return session.reader_done ||
                 (session.stop_requested && session.running.empty() && !cancel_at);
        };
        session.mu.AwaitWithTimeout(absl::Condition(&wake), tick);
        if (session.reader_done) return;
        const absl::Time now = absl::Now();
        if (session.stop_requested && session.running.empty() && !cancel_at) {
          session.closing = true;
          session.queue.clear();  // never started: the router returns them to the queue
          half_close = true;
          cancel_at = now + kCloseGrace;
        }
        for (auto& [delivery_id, next_extend] : session.running) {
          if (next_extend <= now) {
            to_extend.push_back(delivery_id);
            next_extend = now + session.ack_deadline / 2;
          }
        }
      }
      for (const auto& delivery_id : to_extend) {
        v1::SubscribeRequest extend;
        extend.mutable_extend()->set_delivery_id(delivery_id);
        SetDuration(session.ack_deadline, extend.mutable_extend()->mutable_extension());
        session.Write(extend);
      }
      if (half_close) {
        absl::MutexLock lock(&session.write_mu);
        session.stream->WritesDone();
      }
      if (cancel_at && absl::Now() >= *cancel_at) session.context.TryCancel();
    }
  }

  void Work(Session& session) {
    while (true) {
      Session::Received item;
      {
        absl::MutexLock lock(&session.mu);
        auto ready = [&session]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
          return session.closing || !session.queue.empty();
        };
        session.mu.Await(absl::Condition(&ready));
        if (session.closing) return;
        item = std::move(session.queue.front());
        session.queue.pop_front();
        session.running[item.delivery.delivery_id()] =
            item.received_at + session.ack_deadline / 2;
      }
      const Result result = Handle(item.delivery);
      // A failed write means the stream is gone: the router redelivers.
      if (result.no_ack()) {
        // Result::NoAck: nothing to send; the lease runs out and the router redelivers.
      } else if (result.status().ok()) {
        session.Ack(item.delivery.delivery_id());
      } else {
        v1::SubscribeRequest verdict;
        verdict.mutable_nack()->set_delivery_id(item.delivery.delivery_id());
        verdict.mutable_nack()->set_reason(result.status().ToString());
        SetDuration(std::max(result.retry_after(), absl::ZeroDuration()),
                    verdict.mutable_nack()->mutable_retry_after());
        session.Write(verdict);
      }
      absl::MutexLock lock(&session.mu);
      session.running.erase(item.delivery.delivery_id());
    }
  }

  Result Handle(const v1::Delivery& delivery) {
    Handler handler;
    {
      absl::MutexLock lock(&mu_);
      auto it = handlers_.find(delivery.event().type());
      if (it != handlers_.end()) {
        handler = it->second;
      } else if (default_handler_) {
        handler = default_handler_;
      }
    }
    if (!handler) return absl::OkStatus();  // not subscribed to this type: nothing to do
    DeliveryContext context;
    context.delivery_id = delivery.delivery_id();
    context.attempt = delivery.attempt();
    context.matched_rules.assign(delivery.matched_rules().begin(), delivery.matched_rules().end());
    context.lease_expires_at = absl::FromUnixSeconds(delivery.lease_expires_at().seconds()) +
                               absl::Nanoseconds(delivery.lease_expires_at().nanos());
    try {
      return handler(delivery.event(), context);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
    } catch (...) {
      return absl::InternalError("handler threw");
    }
  }

  const AgentOptions options_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  Session* session_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<v1::EventType, Handler> handlers_ ABSL_GUARDED_BY(mu_);
  Handler default_handler_ ABSL_GUARDED_BY(mu_);
};

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Agent::~Agent() = default;
void Agent::On(v1::EventType type, Handler handler) { impl_->On(type, std::move(handler)); }
absl::Status Agent::On(std::string_view type, Handler handler) {
  return impl_->On(type, std::move(handler));
}
absl::Status Agent::Run() { return impl_->Run(); }
void Agent::Stop() { impl_->Stop(); }

}  // namespace switchboard::sdk
