#include "router/store/out_of_line.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace switchboard::store {
namespace {

// Whatever TakeOutOfLine moves out, the event then names (so its commit links the references);
// an event that keeps everything inline names nothing.
TEST(NamesStoredBytesTest, FollowsWhatTakeOutOfLineMovedOut) {
  std::vector<v1::EmailEvent> events(4);
  events[0].set_raw("small");
  events[1].set_raw(std::string(100, 'r'));
  events[2].mutable_inbound()->set_text(std::string(100, 't'));
  v1::Inbound::Attachment* attachment = events[3].mutable_inbound()->add_attachments();
  attachment->set_sha256("aa");
  attachment->set_stored(true);
  for (int i = 0; i < 4; ++i) events[i].set_id("e" + std::to_string(i));
  std::map<std::string, std::string> stored = {{"aa", std::string(100, 'a')}};
  ASSERT_TRUE(TakeOutOfLine(events, stored, /*inline_raw_max=*/10).ok());
  EXPECT_FALSE(NamesStoredBytes(events[0]));
  EXPECT_TRUE(events[1].raw_stored());
  EXPECT_TRUE(NamesStoredBytes(events[1]));
  EXPECT_TRUE(events[2].inbound().text_stored());
  EXPECT_TRUE(NamesStoredBytes(events[2]));
  EXPECT_TRUE(NamesStoredBytes(events[3]));
  EXPECT_FALSE(NamesStoredBytes(v1::EmailEvent()));
}

}  // namespace
}  // namespace switchboard::store
