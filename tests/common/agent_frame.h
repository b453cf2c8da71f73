// How an agent receives an archived event: inside a SubscribeResponse frame of batched
// deliveries, the deepest place an event has in a frame. Header-only test support for the tests
// of store::InspectArchivedEvent (archived_event_test.cc, the archived_event fuzzer); needs the
// generated protos. Wire format: https://protobuf.dev/programming-guides/encoding/
#ifndef SWITCHBOARD_TESTS_COMMON_AGENT_FRAME_H_
#define SWITCHBOARD_TESTS_COMMON_AGENT_FRAME_H_

#include <cstdint>
#include <string>

#include "switchboard/v1/agent.pb.h"

namespace switchboard::test_support {

// `value` as a protobuf varint.
inline std::string Varint(uint64_t value) {
  std::string out;
  do {
    out.push_back(static_cast<char>((value & 0x7f) | (value > 0x7f ? 0x80 : 0)));
    value >>= 7;
  } while (value != 0);
  return out;
}

// Field `number` with wire type 2 (length-delimited) holding `bytes`.
inline std::string LengthDelimited(int number, const std::string& bytes) {
  return Varint((static_cast<uint64_t>(number) << 3) | 2) + Varint(bytes.size()) + bytes;
}

// Parses `event` as protobuf's C++ parser does in an agent: in a SubscribeResponse, in its
// DeliveryBatch (field 3), in a Delivery (field 1), as its event (field 3). False if the parser
// refuses the frame.
inline bool ParseAsAgentFrame(const std::string& event, v1::SubscribeResponse* frame) {
  return frame->ParseFromString(LengthDelimited(3, LengthDelimited(1, LengthDelimited(3, event))));
}

}  // namespace switchboard::test_support

#endif  // SWITCHBOARD_TESTS_COMMON_AGENT_FRAME_H_
