#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace switchboard::testing {

// A hand-driven agent stream for tests: sends Hello, collects every Delivery in arrival order,
// and acks / nacks / extends only when told to. Thread-safe.
class RawAgent {
 public:
  RawAgent(const std::string& target, const std::string& agent, const std::string& token,
           uint32_t max_in_flight = 0);
  ~RawAgent();

  // Waits for the Welcome (or the stream's end). Returns the stream's status on failure.
  grpc::Status WaitWelcome(absl::Duration timeout = absl::Seconds(10));
  // The next delivery not yet returned by Next(), waiting up to `timeout`. If `received_at` is
  // given, it is set to when the stream delivered it (the reader thread's clock), which can be
  // well before Next() returns it.
  std::optional<v1::Delivery> Next(absl::Duration timeout = absl::Seconds(10),
                                   absl::Time* received_at = nullptr);
  bool Ack(const std::string& delivery_id);
  bool Nack(const std::string& delivery_id, absl::Duration retry_after, const std::string& reason);
  bool Extend(const std::string& delivery_id, absl::Duration extension);
  void Cancel();  // ends the stream from the client side
  bool Ended();   // the server ended the stream
  grpc::Status FinalStatus();  // waits for the end of the stream

  const v1::Welcome& welcome() const { return welcome_; }

 private:
  bool Write(const v1::SubscribeRequest& req);
  void ReadLoop();

  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream_;
  absl::Mutex write_mu_;
  absl::Mutex mu_;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::Delivery> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Time> received_at_ ABSL_GUARDED_BY(mu_);  // one per pending_ entry
  grpc::Status status_;
  v1::Welcome welcome_;
  std::thread reader_;
};

// What ConsumeShared received.
struct SharedConsumption {
  std::map<std::string, int> times_by_event_id;  // event id -> deliveries of it
  std::vector<int> per_instance;                 // deliveries handled by each instance
  int total = 0;
};

// Instances of one agent name competing for its queue: one thread per instance takes deliveries,
// spends `work` on each (the handler's time) and acks it, until `expected` deliveries arrived in
// all or an instance waited 5 s for nothing. `produce` (posting the events) runs on the calling
// thread meanwhile; the call returns after every consumer thread ended.
SharedConsumption ConsumeShared(const std::vector<RawAgent*>& instances, int expected,
                                absl::Duration work, const std::function<void()>& produce);

}  // namespace switchboard::testing
