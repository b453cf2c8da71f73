#pragma once

#include <string>
#include <vector>

#include "switchboard/v1/email_event.pb.h"

namespace switchboard::ingress {

// Told about every event the WebhookHandler committed as NEW (Store::Commit answered
// kCommitted; duplicates are not reported), after the commit is durable, with the agents it was
// routed to (empty: no rule matched). The admin API's Tail (router/admin/tail_bus.h) is one.
//
// Thread-safe: both methods run on store threads, concurrently. Neither may block.
class CommitListener {
 public:
  virtual ~CommitListener() = default;
  // Cheap check before the handler copies a batch for OnCommitted: false (nobody is listening)
  // keeps the ingress path free of that copy.
  virtual bool Listening() const = 0;
  virtual void OnCommitted(const v1::EmailEvent& event, const std::vector<std::string>& agents) = 0;
};

}  // namespace switchboard::ingress
