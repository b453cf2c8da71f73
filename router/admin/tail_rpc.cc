// AdminService.Tail (admin_service.h): a server stream fed by the TailBus.
#include <deque>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "boost/json.hpp"
#include "router/admin/admin_service.h"
#include "router/admin/event_filter.h"
#include "router/admin/tail_bus.h"
#include "router/delivery/agent_service.h"
#include "spdlog/spdlog.h"

namespace switchboard::admin {
namespace {

constexpr size_t kTakeBatch = 64;  // events moved from the bus per Take

}  // namespace

// One Tail call. What other threads touch (the bus's wake on a store thread, OnWriteDone and
// OnCancel on gRPC threads, Shutdown) is under mu_. gRPC never runs a reaction inline in
// StartWrite/Finish, so those are called with mu_ held. Lifetime: gRPC calls OnDone once after
// Finish; OnDone unsubscribes (waiting for a wake in progress, which then finds the call finished)
// and unregisters from the service before deleting the reactor, so nothing reaches a finished,
// deleted reactor.
class AdminServiceImpl::TailReactor final : public grpc::ServerWriteReactor<v1::TailEvent> {
 public:
  TailReactor(AdminServiceImpl& service, grpc::CallbackServerContext* context,
              const v1::TailRequest& request)
      : service_(service) {
    absl::StatusOr<std::string> admin = service_.Authenticate(*context);
    if (!admin.ok()) {
      End(ToGrpc(admin.status()));
      return;
    }
    admin_ = *std::move(admin);
    token_ = delivery::BearerToken(*context);
    absl::StatusOr<EventFilter> filter = EventFilter::Create(request.filter(), "filter");
    if (!filter.ok()) {
      End(ToGrpc(filter.status()));
      return;
    }
    TailBus* bus = service_.options_.tail;
    if (bus == nullptr) {
      End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "tail is not available on this router"));
      return;
    }
    {
      absl::MutexLock lock(&service_.tails_mu_);
      if (service_.shutting_down_) {
        End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the router is shutting down"));
        return;
      }
      // SetTokens may have run since Authenticate above, before this call was registered.
      if (!service_.AuthenticateToken(token_).ok()) {
        End(TokenRemoved());
        return;
      }
      service_.tails_.push_back(this);
    }
    auto accept = [filter = std::make_shared<const EventFilter>(*std::move(filter))](
                      const v1::EmailEvent& event, const std::vector<std::string>& agents) {
      return filter->Matches(event, agents);
    };
    std::unique_ptr<TailBus::Subscription> subscription =
        bus->Subscribe([this] { Wake(); }, std::move(accept));
    absl::MutexLock lock(&mu_);
    subscription_ = std::move(subscription);
    // Events published before subscription_ was set woke nobody: look now.
    MaybeWriteLocked();
  }

  // Shutdown: ends the call.
  void Stop() {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the router is shutting down"));
  }

  // A config reload removed the token the call was opened with: ends it.
  void Revoke() { End(TokenRemoved()); }

  const std::string& token() const { return token_; }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    ++sent_;
    MaybeWriteLocked();
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")); }

  void OnDone() override {
    {
      absl::MutexLock lock(&service_.tails_mu_);
      std::erase(service_.tails_, this);
    }
    std::unique_ptr<TailBus::Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
    }
    if (subscription != nullptr) {
      const uint64_t dropped = subscription->dropped();
      subscription.reset();  // waits for a wake in progress; none after this
      spdlog::info(boost::json::serialize(boost::json::object{
          {"event", "admin"},
          {"admin", admin_},
          {"rpc", "Tail"},
          {"sent", sent_},
          {"dropped", dropped}}));
    }
    delete this;
  }

 private:
  static grpc::Status TokenRemoved() {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the admin token of this stream is no longer valid (config reload)");
  }

  void End(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  // The bus's wake: the subscription's queue is no longer empty.
  void Wake() {
    absl::MutexLock lock(&mu_);
    MaybeWriteLocked();
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || subscription_ == nullptr) return;
    if (pending_.empty()) {
      for (v1::TailEvent& event : subscription_->Take(kTakeBatch)) {
        pending_.push_back(std::move(event));
      }
    }
    if (pending_.empty()) return;
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  AdminServiceImpl& service_;
  std::string admin_;  // set before the call is registered; read in OnDone
  std::string token_;  // the bearer token; set before the call is registered, then constant

  absl::Mutex mu_;
  std::unique_ptr<TailBus::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::TailEvent> pending_ ABSL_GUARDED_BY(mu_);  // taken from the bus, not yet written
  v1::TailEvent current_;  // the message of the write in flight
  int64_t sent_ = 0;       // only OnWriteDone (sequential) and OnDone touch it
};

grpc::ServerWriteReactor<v1::TailEvent>* AdminServiceImpl::Tail(
    grpc::CallbackServerContext* context, const v1::TailRequest* request) {
  return new TailReactor(*this, context, *request);
}

void AdminServiceImpl::EndTailsOfRemovedTokens() {
  for (TailReactor* tail : tails_) {
    if (!AuthenticateToken(tail->token()).ok()) tail->Revoke();
  }
}

void AdminServiceImpl::Shutdown() {
  worker_.Stop();  // rule edits under way finish; later ones run on the store's thread
  absl::MutexLock lock(&tails_mu_);
  shutting_down_ = true;
  for (TailReactor* tail : tails_) tail->Stop();
}

}  // namespace switchboard::admin
