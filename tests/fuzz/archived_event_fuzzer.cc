// libFuzzer target: store::InspectArchivedEvent, the check every claim makes of an archived
// event's bytes before they go to an agent as they are (router/store/archived_event.h). It is
// meant to accept exactly what the agent's parser accepts, so every input is also parsed by
// protobuf's C++ parser the way an agent gets it (inside a SubscribeResponse frame of batched
// deliveries), and the findings are:
// - the check accepts bytes that the parser refuses (an agent would drop the frame);
// - the check refuses bytes that the parser accepts, for any fault but "malformed tag": a tag
//   above 2^32 - 1 is the one input refused on purpose, as upb (the Python SDK's parser) refuses
//   it while the C++ parser cuts it to 32 bits
//   (ArchivedEventTest.RefusesWhatTheAgentsParsersRefuse);
// - both accept, and the received_at the check read differs from the parsed event's;
// - crashes and sanitizer reports.
// Seeds: tests/fuzz/seeds/archived_event/ (a serialized event with every kind of field).
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "router/store/archived_event.h"
#include "switchboard/v1/agent.pb.h"
#include "switchboard/v1/email_event.pb.h"
#include "tests/common/agent_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer* const quiet = new google::protobuf::LogSilencer();
  (void)quiet;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  switchboard::v1::SubscribeResponse frame;
  const bool accepted = switchboard::test_support::ParseAsAgentFrame(bytes, &frame);
  const auto facts = switchboard::store::InspectArchivedEvent(bytes);
  if (facts.ok() && !accepted) std::abort();
  if (!facts.ok() && accepted &&
      !absl::StrContains(facts.status().message(), "malformed tag")) {
    std::abort();
  }
  if (facts.ok()) {
    const switchboard::v1::EmailEvent& event = frame.deliveries().deliveries(0).event();
    const absl::Time expected =
        event.has_received_at()
            ? absl::FromUnixSeconds(event.received_at().seconds()) +
                  absl::Nanoseconds(event.received_at().nanos())
            : absl::InfinitePast();
    if (facts->received_at != expected) std::abort();
  }
  return 0;
}
