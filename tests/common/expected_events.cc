#include "tests/common/expected_events.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "router/providers/event_id.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers::testing {

absl::StatusOr<FixtureOutcome> Decoded(absl::StatusOr<DecodeResult> result) {
  if (!result.ok()) return result.status();
  FixtureOutcome outcome;
  outcome.events = std::move(result->events);
  outcome.control = !result->control.empty();
  return outcome;
}

namespace {

void ExpectEvent(const FixtureRun& run, const ExpectedEvent& w, const v1::EmailEvent& got,
                 int64_t signed_at_seconds) {
  EXPECT_EQ(v1::EventType_Name(got.type()), v1::EventType_Name(w.type));
  EXPECT_EQ(got.provider(), run.provider);
  EXPECT_EQ(got.source(), run.source);
  EXPECT_EQ(got.recipient(), w.recipient);
  EXPECT_EQ(got.recipient_key(), absl::AsciiStrToLower(w.recipient));
  if (w.seconds == kAtReceipt) {
    EXPECT_EQ(got.occurred_at().seconds(), got.received_at().seconds()) << "occurred_at: receipt";
    EXPECT_EQ(got.occurred_at().nanos(), got.received_at().nanos()) << "occurred_at: receipt";
    if (run.path == FixturePath::kDecode) {
      EXPECT_EQ(got.received_at().seconds(), kReceivedAtSeconds);
    }
  } else if (w.seconds == kAtSignature) {
    EXPECT_EQ(got.occurred_at().seconds(), signed_at_seconds) << "occurred_at: signed timestamp";
    EXPECT_EQ(got.occurred_at().nanos(), 0);
  } else {
    EXPECT_EQ(got.occurred_at().seconds(), w.seconds);
    EXPECT_EQ(got.occurred_at().nanos(), w.nanos);
  }
  EXPECT_EQ(got.provider_event_key(), w.key);
  EXPECT_EQ(v1::BounceClass_Name(got.bounce().bounce_class()),
            v1::BounceClass_Name(w.bounce_class));
  EXPECT_FALSE(got.raw().empty());
  EXPECT_EQ(got.id(),
            ComputeEventId(run.source, w.key, absl::AsciiStrToLower(w.recipient)).value_or("?"));
}

}  // namespace

size_t ExpectFixtures(
    const FixtureRun& run, const std::vector<ExpectedEvent>& expected,
    const std::function<absl::StatusOr<FixtureOutcome>(const std::string&)>& produce) {
  std::vector<std::string> files =
      run.files.empty() ? ManifestFiles(run.folder, run.suffix) : run.files;
  if (!run.skip_suffix.empty()) {
    std::erase_if(files, [&](const std::string& f) { return f.ends_with(run.skip_suffix); });
  }
  if (!run.skip_prefix.empty()) {
    std::erase_if(files, [&](const std::string& f) { return f.starts_with(run.skip_prefix); });
  }
  std::set<std::string> listed(files.begin(), files.end());
  for (const ExpectedEvent& e : expected) {
    EXPECT_TRUE(listed.count(e.fixture)) << e.fixture << " is not a fixture of this run";
  }
  std::set<std::string> produced_ids;  // kHttp: what the router has committed so far
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    std::vector<const ExpectedEvent*> want;
    int64_t duplicates = 0;
    for (const ExpectedEvent& e : expected) {
      if (e.fixture != file) continue;
      if (run.path == FixturePath::kHttp) {
        const std::string id =
            ComputeEventId(run.source, e.key, absl::AsciiStrToLower(e.recipient)).value_or("?");
        if (!produced_ids.insert(id).second) {
          ++duplicates;
          continue;
        }
      }
      want.push_back(&e);
    }
    absl::StatusOr<FixtureOutcome> outcome = produce(file);
    if (!outcome.ok()) {
      ADD_FAILURE() << outcome.status();
      continue;
    }
    EXPECT_EQ(outcome->duplicates, duplicates);
    if (want.empty() && duplicates == 0) {
      EXPECT_TRUE(outcome->events.empty()) << "no expectations written for " << file;
      EXPECT_TRUE(outcome->control) << "a fixture without rows must be a control message";
      continue;
    }
    if (outcome->events.size() != want.size()) {
      ADD_FAILURE() << "got " << outcome->events.size() << " events, expected " << want.size();
      continue;
    }
    if (run.path == FixturePath::kHttp) {
      // Delivery order is best-effort FIFO (DESIGN.md), so each expected event is found by id.
      for (size_t i = 0; i < want.size(); ++i) {
        SCOPED_TRACE(i);
        const std::string id = ComputeEventId(run.source, want[i]->key,
                                              absl::AsciiStrToLower(want[i]->recipient))
                                   .value_or("?");
        auto got = std::find_if(outcome->events.begin(), outcome->events.end(),
                                [&](const v1::EmailEvent& e) { return e.id() == id; });
        if (got == outcome->events.end()) {
          ADD_FAILURE() << "no delivered event has the id of " << want[i]->key << " / "
                        << want[i]->recipient << "; compared with the one at its position:";
          got = outcome->events.begin() + static_cast<std::ptrdiff_t>(i);
        }
        ExpectEvent(run, *want[i], *got, outcome->signed_at_seconds);
      }
      continue;
    }
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(i);
      ExpectEvent(run, *want[i], outcome->events[i], outcome->signed_at_seconds);
    }
  }
  return files.size();
}

}  // namespace switchboard::providers::testing
