#pragma once

// The C++ agent SDK: subscribes to a Switchboard router's AgentService
// (proto/switchboard/v1/agent.proto), runs a handler per delivered EmailEvent, and acks or nacks
// it by the handler's result.
//
//   switchboard::sdk::Agent agent({.target = "localhost:50051", .agent = "audit", .token = t});
//   agent.On(switchboard::v1::EVENT_TYPE_BOUNCED, [](const auto& event, const auto& context) {
//     return Suppress(event.recipient());  // absl::Status: OK acks, an error nacks
//   });
//   absl::Status status = agent.Run();  // blocks until Stop()
//
// Delivery is at-least-once: a handler may see an event again (attempt > 1), so it should be
// idempotent (EmailEvent.id is the idempotency key).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::sdk {

struct AgentOptions {
  std::string target;          // the router's gRPC listener, "host:port" (insecure channel)
  std::string agent;           // the agent name that routing rules target
  std::string token;           // sent as metadata `authorization: Bearer <token>`
  uint32_t max_in_flight = 8;  // handlers running at once; also the window asked in Hello (>= 1)
  std::string instance;        // free-form label of this process, shown to operators
  absl::Duration reconnect_backoff_min = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(10);
};

// About one delivery (one attempt of one event).
struct DeliveryContext {
  std::string delivery_id;  // opaque, unique per attempt
  uint32_t attempt = 0;     // 1 for the first delivery
  std::vector<std::string> matched_rules;
  absl::Time lease_expires_at;  // as the router set it when it sent the delivery
};

// A handler's verdict: OK acks; an error nacks, with the status message as the reason, and asks
// for redelivery after retry_after (zero: as soon as the router sees fit).
class Result {
 public:
  Result(absl::Status status) : status_(std::move(status)) {}  // NOLINT: implicit on purpose
  static Result RetryAfter(absl::Status status, absl::Duration retry_after) {
    Result result(std::move(status));
    result.retry_after_ = retry_after;
    return result;
  }
  // Sends neither Ack nor Nack: the router delivers the event again once its lease runs out
  // (attempt+1). For tests of redelivery, and agents that settle a delivery some other way.
  static Result NoAck() {
    Result result(absl::OkStatus());
    result.no_ack_ = true;
    return result;
  }
  const absl::Status& status() const { return status_; }
  absl::Duration retry_after() const { return retry_after_; }
  bool no_ack() const { return no_ack_; }

 private:
  absl::Status status_;
  absl::Duration retry_after_ = absl::ZeroDuration();
  bool no_ack_ = false;
};

// Called on a worker thread; at most AgentOptions::max_in_flight handlers run at once. An
// exception thrown by a handler nacks the delivery (it never reaches the SDK's threads).
using Handler = std::function<Result(const v1::EmailEvent& event, const DeliveryContext& context)>;

// One agent process's subscription. Register handlers before Run(). While a handler runs longer
// than half the router's ack deadline (from Welcome) the SDK extends the lease, so slow handlers
// (an LLM call) are not redelivered meanwhile. Events without a matching handler are acked.
class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();  // REQUIRES: Run() has returned (or was never called)
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // The handler for one event type; replaces an earlier one for that type.
  void On(v1::EventType type, Handler handler);
  // `type` is a lowercase event type name ("bounced", as in the config file) or "*": every type
  // without a handler of its own. kInvalidArgument: an unknown name.
  absl::Status On(std::string_view type, Handler handler);

  // Connects, subscribes and handles deliveries until Stop(); reconnects after any failure with
  // exponential backoff and jitter between reconnect_backoff_min and _max (reset after a Welcome).
  // Returns OK after Stop(); kInvalidArgument for bad options; and, without retrying, the
  // router's verdict when retrying cannot help: kUnauthenticated (bad token or unknown agent),
  // kPermissionDenied (the token is another agent's), kInvalidArgument (protocol violation).
  absl::Status Run();

  // Makes Run() return: stops taking deliveries, lets running handlers finish and their acks go
  // out, then closes the stream (deliveries not started yet go back to the queue). Thread-safe,
  // callable from a handler; an Agent does not run again after Stop().
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::sdk
