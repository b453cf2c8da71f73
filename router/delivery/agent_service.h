#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/config/config.h"
#include "router/delivery/agent_directory.h"
#include "router/delivery/dispatcher.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace switchboard::delivery {

// The token of the call's `authorization: Bearer <token>` metadata (the scheme is
// case-insensitive, RFC 7235), or "" when there is none. Shared by the agent and admin services.
std::string BearerToken(const grpc::CallbackServerContext& context);

struct AgentServiceOptions {
  config::DeliveryConfig delivery;  // ack_deadline and the max_in_flight default/cap (Welcome)
  std::string server_id;            // sent in Welcome, for operators
  absl::Duration hello_timeout = absl::Seconds(10);  // Hello must arrive within this
};

class SubscribeReactor;

// switchboard.v1.AgentService over gRPC's callback API, following the protocol in
// proto/switchboard/v1/agent.proto:
// - metadata `authorization: Bearer <token>`: missing or unknown token -> UNAUTHENTICATED;
// - Hello first, within hello_timeout, else INVALID_ARGUMENT; a second Hello -> INVALID_ARGUMENT;
//   Hello.agent not configured -> UNAUTHENTICATED; a valid token of another agent ->
//   PERMISSION_DENIED;
// - Welcome {ack_deadline, effective max_in_flight (0 -> config default, capped by config),
//   server_id}, then deliveries from the Dispatcher; "config" is the agent's own settings
//   (Dispatcher::SettingsFor), else AgentServiceOptions::delivery's;
// - Ack/Nack/Extend go to the Dispatcher (unknown ids are counted there, the stream stays open);
// - a client half-close ends the stream with OK; when a stream ends for any reason its unacked
//   deliveries go back to the queue at once.
// Each call is one reactor that owns its state and deletes itself in OnDone; live reactors are in
// a registry under a mutex that OnDone leaves before the reactor is deleted.
//
// Thread-safe. `dispatcher` must outlive the service; destroy the service after the grpc::Server
// that serves it has shut down (Shutdown() first, so that shutdown does not wait on open streams).
class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  AgentServiceImpl(Dispatcher& dispatcher, const std::vector<config::AgentConfig>& agents,
                   AgentServiceOptions options);
  ~AgentServiceImpl() override;

  grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context) override;

  // Swaps the agents/tokens snapshot (config reload). Streams already open keep their identity.
  void SetAgents(const std::vector<config::AgentConfig>& agents);

  // Ends every open stream with UNAVAILABLE and refuses new ones (also with UNAVAILABLE).
  void Shutdown();

 private:
  friend class SubscribeReactor;

  std::shared_ptr<const AgentDirectory> directory() const;
  // False if the service is shutting down (the reactor then finishes with UNAVAILABLE).
  bool Register(SubscribeReactor* reactor, absl::Time hello_deadline);
  void HelloReceived(SubscribeReactor* reactor);
  void Unregister(SubscribeReactor* reactor);
  void RunHelloTimer();

  Dispatcher& dispatcher_;
  const AgentServiceOptions options_;

  mutable absl::Mutex directory_mu_;
  std::shared_ptr<const AgentDirectory> directory_ ABSL_GUARDED_BY(directory_mu_);

  // Lock order: mu_ before a reactor's own mutex.
  absl::Mutex mu_;
  absl::CondVar timer_wake_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Live reactors -> the time their Hello is due (InfiniteFuture once it arrived).
  std::map<SubscribeReactor*, absl::Time> reactors_ ABSL_GUARDED_BY(mu_);

  std::thread hello_timer_;  // last: starts after every member is ready
};

}  // namespace switchboard::delivery
