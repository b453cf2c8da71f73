// A first C++ agent, built against the installed SDK: prints the first bounce it receives, acks
// it, and exits 0.   first_agent HOST:PORT AGENT   (token: env SWITCHBOARD_AGENT_TOKEN)
#include <cstdlib>
#include <iostream>

#include "switchboard/agent.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: first_agent HOST:PORT AGENT\n";
    return 2;
  }
  const char* token = std::getenv("SWITCHBOARD_AGENT_TOKEN");
  switchboard::sdk::Agent agent({.target = argv[1], .agent = argv[2], .token = token ? token : ""});
  if (absl::Status s = agent.On("no-such-type", nullptr); s.code() != absl::StatusCode::kInvalidArgument) {
    std::cerr << "On() accepted an unknown type name\n";
    return 1;
  }
  absl::Status on = agent.On("bounced", [&agent](const switchboard::v1::EmailEvent& event,
                                                 const switchboard::sdk::DeliveryContext& ctx) {
    std::cout << "received " << event.id() << " " << event.recipient_key() << " attempt "
              << ctx.attempt << std::endl;
    agent.Stop();
    return absl::OkStatus();
  });
  if (!on.ok()) return 1;
  absl::Status run = agent.Run();
  if (!run.ok()) {
    std::cerr << "Run: " << run << "\n";
    return 1;
  }
  return 0;
}
