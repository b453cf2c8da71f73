#include "router/delivery/agent_service.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "router/common/proto_time.h"
#include "spdlog/spdlog.h"

namespace switchboard::delivery {
namespace {

// Limits of one DeliveryBatch (see agent.proto): a batch saves per-frame work on both ends, and
// these keep one frame from holding up the stream or the agent's memory.
constexpr int kMaxBatchDeliveries = 256;
constexpr size_t kMaxBatchBytes = 1 << 20;

}  // namespace

std::string BearerToken(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  const std::string value(it->second.data(), it->second.size());
  constexpr size_t kSchemeLength = 7;  // "Bearer "
  if (value.size() <= kSchemeLength ||
      absl::AsciiStrToLower(value.substr(0, kSchemeLength)) != "bearer ") {
    return "";
  }
  return value.substr(kSchemeLength);
}

// One Subscribe call. Read reactions are sequential (one read in flight), so `request_` and
// `stream_id_` need no lock; what other threads touch (the Dispatcher via Send, the service via
// End / HelloTimedOut) is under mu_. gRPC never runs a reaction inline in StartWrite/Finish, so
// those may be called with mu_ held.
class SubscribeReactor final
    : public grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>,
      public DeliverySink {
 public:
  SubscribeReactor(AgentServiceImpl& service, grpc::CallbackServerContext* context)
      : service_(service), directory_(service.directory()), peer_(context->peer()) {
    token_agent_ = directory_->Authenticate(BearerToken(*context));
    if (!token_agent_) {
      End(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or invalid bearer token"));
      return;
    }
    StartRead(&request_);
    if (!service_.Register(this, absl::Now() + service_.options_.hello_timeout)) {
      End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
  }

  bool Send(v1::Delivery delivery) override {
    v1::SubscribeResponse response;
    *response.mutable_delivery() = std::move(delivery);
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    writes_.push_back(std::move(response));
    MaybeStartWriteLocked();
    return true;
  }

  // Finishes the call with `status` unless it is already finishing. Any thread.
  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  void HelloTimedOut() {
    absl::MutexLock lock(&mu_);
    if (hello_received_ || finished_) return;
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no Hello within the timeout"));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call is over
      End(grpc::Status::OK);
      return;
    }
    switch (request_.kind_case()) {
      case v1::SubscribeRequest::kHello:
        if (!HandleHello(request_.hello())) return;
        break;
      case v1::SubscribeRequest::kAck:
      case v1::SubscribeRequest::kNack:
      case v1::SubscribeRequest::kExtend:
      case v1::SubscribeRequest::KIND_NOT_SET:  // a field this server does not know yet
        if (stream_id_ == 0) {
          End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Hello must come first"));
          return;
        }
        Forward();
        break;
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {  // the call is broken; nothing more will be written
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      }
      return;
    }
    MaybeStartWriteLocked();
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")); }

  void OnDone() override {
    service_.Unregister(this);
    if (stream_id_ != 0) service_.dispatcher_.RemoveStream(stream_id_);
    delete this;
  }

 private:
  // False if the stream ended.
  bool HandleHello(const v1::Hello& hello) {
    {
      absl::MutexLock lock(&mu_);
      if (hello_received_) {
        if (!finished_) {
          finished_ = true;
          Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "second Hello"));
        }
        return false;
      }
      hello_received_ = true;
    }
    service_.HelloReceived(this);
    if (!directory_->HasAgent(hello.agent())) {
      End(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown agent"));
      return false;
    }
    if (*token_agent_ != hello.agent()) {
      End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the token belongs to another agent"));
      return false;
    }
    // The agent's own settings (agents[].ack_deadline / max_in_flight) over delivery.*.
    const config::DeliveryConfig& config = service_.dispatcher_.SettingsFor(hello.agent());
    const uint32_t cap = std::max<uint32_t>(1, config.max_in_flight);
    const uint32_t window =
        hello.max_in_flight() == 0 ? cap : std::min(hello.max_in_flight(), cap);
    v1::SubscribeResponse welcome;
    SetDuration(config.ack_deadline, welcome.mutable_welcome()->mutable_ack_deadline());
    welcome.mutable_welcome()->set_max_in_flight(window);
    welcome.mutable_welcome()->set_server_id(service_.options_.server_id);
    welcome.mutable_welcome()->set_batches(true);
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return false;
      batches_ = hello.batches();
      writes_.push_back(std::move(welcome));  // before any delivery
      MaybeStartWriteLocked();
    }
    spdlog::info("agent {} subscribed (instance '{}', max_in_flight {}, batches {})",
                 hello.agent(), hello.instance(), window, hello.batches() ? "on" : "off");
    stream_id_ =
        service_.dispatcher_.AddStream(hello.agent(), window, this, {hello.instance(), peer_});
    return true;
  }

  void Forward() {
    Dispatcher& dispatcher = service_.dispatcher_;
    switch (request_.kind_case()) {
      case v1::SubscribeRequest::kAck: {
        v1::Ack& ack = *request_.mutable_ack();
        dispatcher.Ack(stream_id_, std::move(*ack.mutable_delivery_id()));
        for (std::string& id : *ack.mutable_more_delivery_ids()) {
          dispatcher.Ack(stream_id_, std::move(id));
        }
        break;
      }
      case v1::SubscribeRequest::kNack:
        dispatcher.Nack(stream_id_, request_.nack().delivery_id(),
                        FromDuration(request_.nack().retry_after()), request_.nack().reason());
        break;
      case v1::SubscribeRequest::kExtend:
        dispatcher.Extend(stream_id_, request_.extend().delivery_id(),
                          FromDuration(request_.extend().extension()));
        break;
      default:
        break;
    }
  }

  void MaybeStartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || finished_ || writes_.empty()) return;
    current_write_ = std::move(writes_.front());
    writes_.pop_front();
    if (batches_ && current_write_.has_delivery()) BatchLocked();
    write_in_flight_ = true;
    // While more responses wait behind this one, let gRPC keep it in its buffer: the next write
    // starts from OnWriteDone, and the last one queued goes without the hint and flushes them
    // all, so a burst of deliveries leaves in a few sendmsg calls instead of one each. Never on
    // the first write, which carries the initial metadata (a hinted first message is never sent).
    if (writes_.empty() || !metadata_sent_) {
      StartWrite(&current_write_);
    } else {
      StartWrite(&current_write_, grpc::WriteOptions().set_buffer_hint());
    }
    metadata_sent_ = true;
  }

  // Turns current_write_ (a delivery) and the deliveries queued right behind it into one
  // DeliveryBatch, in order, within kMaxBatchDeliveries and kMaxBatchBytes. A delivery that would
  // break the byte limit stays queued for the next write; one that is alone stays a plain
  // `delivery`.
  void BatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t bytes = current_write_.delivery().ByteSizeLong();
    v1::SubscribeResponse batch;
    v1::DeliveryBatch& deliveries = *batch.mutable_deliveries();
    while (!writes_.empty() && writes_.front().has_delivery() &&
           deliveries.deliveries_size() < kMaxBatchDeliveries) {
      const size_t next = writes_.front().delivery().ByteSizeLong();
      if (bytes + next > kMaxBatchBytes) break;
      bytes += next;
      if (deliveries.deliveries_size() == 0) {
        *deliveries.add_deliveries() = std::move(*current_write_.mutable_delivery());
      }
      *deliveries.add_deliveries() = std::move(*writes_.front().mutable_delivery());
      writes_.pop_front();
    }
    if (deliveries.deliveries_size() > 0) current_write_ = std::move(batch);
  }

  AgentServiceImpl& service_;
  const std::shared_ptr<const AgentDirectory> directory_;
  const std::string peer_;  // for operators (Dispatcher::Streams)
  std::optional<std::string> token_agent_;  // the agent the bearer token belongs to
  v1::SubscribeRequest request_;
  uint64_t stream_id_ = 0;  // the Dispatcher's id, 0 until a valid Hello

  absl::Mutex mu_;
  bool hello_received_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish was called
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool metadata_sent_ ABSL_GUARDED_BY(mu_) = false;  // the first write (with the metadata) started
  bool batches_ ABSL_GUARDED_BY(mu_) = false;  // the agent sent Hello.batches
  std::deque<v1::SubscribeResponse> writes_ ABSL_GUARDED_BY(mu_);
  v1::SubscribeResponse current_write_;  // the message of the write in flight
};

AgentServiceImpl::AgentServiceImpl(Dispatcher& dispatcher,
                                   const std::vector<config::AgentConfig>& agents,
                                   AgentServiceOptions options)
    : dispatcher_(dispatcher),
      options_(std::move(options)),
      directory_(std::make_shared<const AgentDirectory>(agents)),
      hello_timer_([this] { RunHelloTimer(); }) {}

AgentServiceImpl::~AgentServiceImpl() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    timer_wake_.Signal();
  }
  hello_timer_.join();
}

grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* AgentServiceImpl::Subscribe(
    grpc::CallbackServerContext* context) {
  return new SubscribeReactor(*this, context);
}

void AgentServiceImpl::SetAgents(const std::vector<config::AgentConfig>& agents) {
  auto directory = std::make_shared<const AgentDirectory>(agents);
  absl::MutexLock lock(&directory_mu_);
  directory_ = std::move(directory);
}

std::shared_ptr<const AgentDirectory> AgentServiceImpl::directory() const {
  absl::MutexLock lock(&directory_mu_);
  return directory_;
}

void AgentServiceImpl::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (const auto& [reactor, hello_deadline] : reactors_) {
    reactor->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
}

bool AgentServiceImpl::Register(SubscribeReactor* reactor, absl::Time hello_deadline) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  reactors_.emplace(reactor, hello_deadline);
  timer_wake_.Signal();
  return true;
}

void AgentServiceImpl::HelloReceived(SubscribeReactor* reactor) {
  absl::MutexLock lock(&mu_);
  auto it = reactors_.find(reactor);
  if (it != reactors_.end()) it->second = absl::InfiniteFuture();
}

void AgentServiceImpl::Unregister(SubscribeReactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactors_.erase(reactor);
}

void AgentServiceImpl::RunHelloTimer() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    absl::Time next = absl::InfiniteFuture();
    for (auto& [reactor, hello_deadline] : reactors_) {
      if (hello_deadline <= now) {
        hello_deadline = absl::InfiniteFuture();
        reactor->HelloTimedOut();
      } else {
        next = std::min(next, hello_deadline);
      }
    }
    timer_wake_.WaitWithDeadline(&mu_, next);
  }
}

}  // namespace switchboard::delivery
