#include "tests/unit/providers/expected_events.h"

#include <set>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "router/providers/event_id.h"
#include "tests/unit/providers/fixture_util.h"

namespace switchboard::providers::testing {

size_t ExpectFixtures(std::string_view folder, std::string_view suffix, std::string_view provider,
                      const std::vector<ExpectedEvent>& expected,
                      const std::function<absl::StatusOr<DecodeResult>(const std::string&)>& decode) {
  const std::vector<std::string> files = ManifestFiles(folder, suffix);
  std::set<std::string> listed(files.begin(), files.end());
  for (const ExpectedEvent& e : expected) {
    EXPECT_TRUE(listed.count(e.fixture)) << e.fixture << " is not in SHA256SUMS";
  }
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    std::vector<const ExpectedEvent*> want;
    for (const ExpectedEvent& e : expected) {
      if (e.fixture == file) want.push_back(&e);
    }
    absl::StatusOr<DecodeResult> result = decode(file);
    if (!result.ok()) {
      ADD_FAILURE() << result.status();
      continue;
    }
    if (want.empty()) {
      EXPECT_TRUE(result->events.empty()) << "no expectations written for " << file;
      EXPECT_FALSE(result->control.empty()) << "a fixture without rows must be a control message";
      continue;
    }
    if (result->events.size() != want.size()) {
      ADD_FAILURE() << "decoded " << result->events.size() << " events, expected " << want.size();
      continue;
    }
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(i);
      const v1::EmailEvent& got = result->events[i];
      const ExpectedEvent& w = *want[i];
      EXPECT_EQ(v1::EventType_Name(got.type()), v1::EventType_Name(w.type));
      EXPECT_EQ(got.provider(), provider);
      EXPECT_EQ(got.recipient(), w.recipient);
      EXPECT_EQ(got.recipient_key(), absl::AsciiStrToLower(w.recipient));
      EXPECT_EQ(got.occurred_at().seconds(), w.seconds);
      EXPECT_EQ(got.occurred_at().nanos(), w.nanos);
      EXPECT_EQ(got.provider_event_key(), w.key);
      EXPECT_EQ(v1::BounceClass_Name(got.bounce().bounce_class()),
                v1::BounceClass_Name(w.bounce_class));
      EXPECT_FALSE(got.raw().empty());
      EXPECT_EQ(got.id(), ComputeEventId(got.source(), w.key, absl::AsciiStrToLower(w.recipient))
                              .value_or("?"));
    }
  }
  return files.size();
}

}  // namespace switchboard::providers::testing
