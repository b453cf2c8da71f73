#include "router/store/archived_event.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "switchboard/v1/agent.pb.h"
#include "switchboard/v1/email_event.pb.h"
#include "tests/common/agent_frame.h"

namespace switchboard::store {
namespace {

using ::testing::HasSubstr;
using test_support::LengthDelimited;
using test_support::Varint;

// Every message and kind of field EmailEvent has: scalars, enums, strings, bytes that are not
// UTF-8, nested messages three deep, repeated strings and messages, and the metadata map.
v1::EmailEvent FullEvent() {
  v1::EmailEvent event;
  event.set_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  event.set_source("sendgrid");
  event.set_provider("sendgrid");
  event.set_type(v1::EVENT_TYPE_BOUNCED);
  event.set_provider_event_type("bounce");
  event.set_provider_event_key("sg-event-key");
  event.mutable_occurred_at()->set_seconds(1700000000);
  event.mutable_received_at()->set_seconds(1700000002);
  event.mutable_received_at()->set_nanos(250000000);
  event.set_recipient("Ünïcode@Example.com");
  event.set_recipient_key("ünïcode@example.com");
  event.set_message_id("<msg@example.com>");
  event.mutable_bounce()->set_bounce_class(v1::BOUNCE_CLASS_HARD);
  event.mutable_bounce()->set_diagnostic("550 5.1.1 mailbox unavailable");
  event.mutable_click()->set_url("https://example.com/a?b=c");
  event.mutable_open()->set_machine_open(true);
  event.add_tags("welcome");
  event.add_tags("tag two");
  (*event.mutable_metadata())["customer"] = "42";
  (*event.mutable_metadata())["plan"] = "pro";
  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_from("someone@example.com");
  inbound->add_to("a@example.com");
  inbound->add_references("<r1@example.com>");
  v1::Inbound::Attachment* attachment = inbound->add_attachments();
  attachment->set_filename("report.pdf");
  attachment->set_size(3);
  attachment->set_content(std::string("\xff\x00\xfe", 3));
  event.set_raw(std::string("raw \xff\xfe bytes", 12));
  event.set_raw_format(v1::RAW_FORMAT_JSON);
  event.set_raw_size(12);
  return event;
}

// Replaces the only occurrence of `marker` in `bytes` with `replacement` of the same length.
std::string Patched(std::string bytes, const std::string& marker, const std::string& replacement) {
  const size_t at = bytes.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  EXPECT_EQ(bytes.find(marker, at + 1), std::string::npos) << marker;
  EXPECT_EQ(marker.size(), replacement.size());
  if (at != std::string::npos) bytes.replace(at, marker.size(), replacement);
  return bytes;
}

// Whether an agent's parser (protobuf's C++ one here) takes `event` as the router sends it
// (test_support::ParseAsAgentFrame).
bool AgentAccepts(const std::string& event) {
  v1::SubscribeResponse frame;
  return test_support::ParseAsAgentFrame(event, &frame);
}

TEST(ArchivedEventTest, AcceptsAFullEventAndReadsItsReceivedAt) {
  const std::string bytes = FullEvent().SerializeAsString();
  absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(bytes);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->received_at, absl::FromUnixSeconds(1700000002) + absl::Milliseconds(250));
}

TEST(ArchivedEventTest, ReceivedAtIsInfinitePastOnlyWhenTheFieldIsAbsent) {
  v1::EmailEvent event;
  event.set_id("e1");
  absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(event.SerializeAsString());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->received_at, absl::InfinitePast());
  event.mutable_received_at();  // present, at the epoch: an empty submessage on the wire
  facts = InspectArchivedEvent(event.SerializeAsString());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->received_at, absl::UnixEpoch());
  // occurred_at is the same type one field earlier; it must not be taken for received_at.
  event.clear_received_at();
  event.mutable_occurred_at()->set_seconds(5);
  facts = InspectArchivedEvent(event.SerializeAsString());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->received_at, absl::InfinitePast());
}

// Not UTF-8 in a string field at each depth is refused, as protobuf's parser refuses it; the
// same bytes in a bytes field are accepted, as the parser accepts them.
TEST(ArchivedEventTest, RefusesAStringFieldThatIsNotUtf8AtAnyDepth) {
  google::protobuf::LogSilencer quiet;  // the reference parser logs every bad string
  const std::string bytes = FullEvent().SerializeAsString();
  for (const std::string& marker :
       {std::string("someone@example.com"), std::string("550 5.1.1"), std::string("report.pdf"),
        std::string("plan"), std::string("pro"), std::string("tag two")}) {
    std::string bad_text = marker;
    bad_text[0] = '\xc3';  // a lead byte followed by ASCII: not UTF-8
    const std::string bad = Patched(bytes, marker, bad_text);
    ASSERT_FALSE(v1::EmailEvent().ParseFromString(bad)) << marker;  // the reference
    absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(bad);
    ASSERT_FALSE(facts.ok()) << marker;
    EXPECT_EQ(facts.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(facts.status().message(), HasSubstr("UTF-8")) << marker;
  }
  const std::string raw = Patched(bytes, "raw ", "\xc3\xc3\xc3\xc3");
  ASSERT_TRUE(v1::EmailEvent().ParseFromString(raw));
  EXPECT_TRUE(InspectArchivedEvent(raw).ok());
}

TEST(ArchivedEventTest, RefusesMalformedWireFormat) {
  const std::string bytes = FullEvent().SerializeAsString();
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      {"cut off inside a string", bytes.substr(0, bytes.find("someone@") + 4)},
      {"cut off inside a nested message", bytes.substr(0, bytes.find("550 5.1.1") - 1)},
      {"field number 0", std::string("\x02\x01x", 3)},
      {"wire type 7", std::string("\x0f", 1)},
      {"end group alone", std::string("\x0c", 1)},
      {"unterminated varint", std::string("\x20\xff\xff", 3)},
      {"length past the end", std::string("\x0a\x05" "ab", 4)},
      {"group without its end", std::string("\xfb\x01\x08\x01", 4)},  // field 31, start group
      {"the Redis store's garbage", std::string("\xff\xff\xff", 3)},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(v1::EmailEvent().ParseFromString(c.bytes)) << c.what << " (the reference)";
    absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(c.bytes);
    EXPECT_FALSE(facts.ok()) << c.what;
    EXPECT_EQ(facts.status().code(), absl::StatusCode::kDataLoss) << c.what;
  }
}

// Encodings that random damage rarely makes: over-long tags and lengths, and nesting at the
// limit of the agent's parser.
TEST(ArchivedEventTest, RefusesWhatTheAgentsParsersRefuse) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      // The C++ parser reads a length in at most 5 bytes, the 5th at most 7 (ReadSize).
      {"a length of 2^32 + 1, which 32 bits would cut to 1",
       std::string("\x0a\x81\x80\x80\x80\x10\x41", 7)},
      {"a length of 0 in 6 bytes", std::string("\x0a\x80\x80\x80\x80\x80\x00", 7)},
      {"a length above INT_MAX - 16", std::string("\x0a\xf0\xff\xff\xff\x07", 6)},
      // ... and a tag in at most 5 bytes (ReadTag).
      {"a tag in 6 bytes", std::string("\x88\x80\x80\x80\x80\x00\x00", 7)},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(AgentAccepts(c.bytes)) << c.what << " (the reference)";
    absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(c.bytes);
    EXPECT_FALSE(facts.ok()) << c.what;
    EXPECT_EQ(facts.status().code(), absl::StatusCode::kDataLoss) << c.what;
  }
  // A 5-byte tag above 2^32 - 1: the C++ parser cuts it to field 1 as a varint, but upb (the
  // Python SDK's parser) refuses it ("_upb_Decoder_DecodeTag": above UINT32_MAX), so it is
  // refused here.
  const std::string wide_tag("\x88\x80\x80\x80\x10\x00", 6);
  ASSERT_TRUE(AgentAccepts(wide_tag));
  EXPECT_FALSE(InspectArchivedEvent(wide_tag).ok());

  // Groups nested 97 deep fit in a frame of batched deliveries; 98 do not, though EmailEvent
  // alone would parse.
  const auto nested = [](int depth) {
    std::string bytes;
    for (int i = 0; i < depth; ++i) bytes += "\xfb\x01";  // field 31, start group
    for (int i = 0; i < depth; ++i) bytes += "\xfc\x01";  // field 31, end group
    return bytes;
  };
  ASSERT_TRUE(AgentAccepts(nested(97)));
  EXPECT_TRUE(InspectArchivedEvent(nested(97)).ok());
  ASSERT_FALSE(AgentAccepts(nested(98)));
  ASSERT_TRUE(v1::EmailEvent().ParseFromString(nested(98)));
  EXPECT_FALSE(InspectArchivedEvent(nested(98)).ok());
}

TEST(ArchivedEventTest, SkipsFieldsTheSchemaDoesNotKnow) {
  // An unknown varint, fixed64, length-delimited field and a group, then the id.
  const std::string bytes =
      std::string("\xf8\x07\x2a", 3) + std::string("\xf9\x07", 2) + std::string(8, '\x01') +
      std::string("\xfa\x07\x02\xff\xff", 5) + std::string("\xfb\x07\x08\x01\xfc\x07", 6) +
      std::string("\x0a\x02id", 4);
  v1::EmailEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));  // the reference keeps them as unknown fields
  EXPECT_EQ(parsed.id(), "id");
  EXPECT_TRUE(InspectArchivedEvent(bytes).ok());
}

// The check is meant to accept exactly what the agent's parser accepts. Random damage to a real
// event (bytes changed, inserted, deleted, cut off) must get the same answer from both.
TEST(ArchivedEventTest, AgreesWithProtobufsParserOnDamagedEvents) {
  google::protobuf::LogSilencer quiet;  // the reference parser logs every bad string
  const std::string original = FullEvent().SerializeAsString();
  std::mt19937 random(20261202);
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = original;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0:
          bytes[at] = static_cast<char>(random());
          break;
        case 1:
          bytes.insert(at, 1, static_cast<char>(random()));
          break;
        case 2:
          bytes.erase(at, 1);
          break;
        default:
          bytes.resize(at);
          break;
      }
    }
    const bool reference = AgentAccepts(bytes);
    ASSERT_EQ(reference, v1::EmailEvent().ParseFromString(bytes)) << "case " << i;
    const absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(bytes);
    ASSERT_EQ(facts.ok(), reference)
        << "case " << i << ": " << (reference ? "parser accepts" : "parser refuses") << ", check "
        << facts.status();
    (reference ? accepted : refused) += 1;
  }
  // Both answers occur often, or the comparison says little.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

void CollectPackable(const google::protobuf::Descriptor& type,
                     std::set<const google::protobuf::Descriptor*>& seen,
                     std::vector<std::string>& packable) {
  if (!seen.insert(&type).second) return;
  for (int i = 0; i < type.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *type.field(i);
    if (field.is_repeated() && field.is_packable()) packable.push_back(field.full_name());
    if (field.message_type() != nullptr) CollectPackable(*field.message_type(), seen, packable);
  }
}

// InspectArchivedEvent does not check packed encodings; this fails when a field would need it.
TEST(ArchivedEventTest, TheSchemaHasNoPackedFields) {
  std::set<const google::protobuf::Descriptor*> seen;
  std::vector<std::string> packable;
  CollectPackable(*v1::EmailEvent::descriptor(), seen, packable);
  EXPECT_TRUE(packable.empty()) << "check packed fields in InspectArchivedEvent: "
                                << packable.front();
  EXPECT_GT(seen.size(), 5u);  // the walk reached the nested messages
}

}  // namespace
}  // namespace switchboard::store
