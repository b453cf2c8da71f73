// delivery_encode_cost: what the router does with one claimed event between the store and the
// gRPC frame, the way before 9064cdf against the way since (BENCHMARKS.md, change 40).
//
// Decodes a SendGrid batch from the fixtures with the router's own decoder, keeps each event as
// the store archives it (EmailEvent.SerializeAsString), then, for --deliveries deliveries in
// batches of 256 (the window of S6), turns each stored event into a Delivery of a
// DeliveryBatch and serializes the SubscribeResponse, in two ways:
//   parse   EmailEvent::ParseFromString, the parsed event moved into Delivery.event (the claim
//           and the dispatcher before 9064cdf)
//   bytes   InspectArchivedEvent, then MakeDelivery: the stored bytes as Delivery field 3 (since)
// Both start from a copy of the stored bytes, as the claim gets them from SQLite, and both end
// with the batch serialized and freed. The ways alternate --rounds times; each round prints the
// thread CPU microseconds per delivery of each way and their ratio, and the last line the
// medians. A way whose frames do not parse back into the same events fails the run.
//
// Usage: delivery_encode_cost [--fixture tests/testdata/fixtures/sendgrid/all-events.batch.json]
//                             [--deliveries 200000] [--rounds 7]
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/common/proto_time.h"
#include "router/delivery/dispatcher.h"
#include "router/providers/sendgrid_provider.h"
#include "router/store/archived_event.h"
#include "switchboard/v1/agent.pb.h"

namespace {

using switchboard::v1::Delivery;
using switchboard::v1::DeliveryBatch;
using switchboard::v1::EmailEvent;
using switchboard::v1::SubscribeResponse;

constexpr int kBatch = 256;

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "delivery_encode_cost: %s\n", message.c_str());
  std::exit(1);
}

std::vector<std::string> StoredEvents(const std::string& fixture) {
  std::ifstream in(fixture, std::ios::binary);
  if (!in) Die("cannot read " + fixture);
  std::stringstream body;
  body << in.rdbuf();
  auto keys = switchboard::crypto::GenerateP256KeyPair();
  if (!keys.ok()) Die(keys.status().ToString());
  switchboard::config::SourceConfig source;
  source.name = "sendgrid";
  source.provider = "sendgrid";
  source.public_key = keys->public_key_der_base64;
  static const switchboard::SystemClock clock;
  auto provider = switchboard::providers::SendgridProvider::Create(source, "sources[0]", clock,
                                                                    absl::Minutes(10));
  if (!provider.ok()) Die(provider.status().ToString());
  switchboard::providers::WebhookRequest request;
  request.source = "sendgrid";
  request.method = "POST";
  request.body = body.str();
  request.received_at = absl::Now();
  auto decoded = (*provider)->Decode(request);
  if (!decoded.ok()) Die(decoded.status().ToString());
  std::vector<std::string> stored;
  for (const EmailEvent& event : decoded->events) stored.push_back(event.SerializeAsString());
  if (stored.empty()) Die("no events in " + fixture);
  return stored;
}

// One way over `deliveries` deliveries; answers CPU µs per delivery. `check`: parse every frame
// back and compare its events with the stored ones.
template <bool kBytes>
double Run(const std::vector<std::string>& stored, int deliveries, bool check) {
  const absl::Time lease_end = absl::Now() + absl::Seconds(30);
  int64_t frame_bytes = 0;
  const double start = ThreadCpuMicros();
  for (int done = 0; done < deliveries;) {
    SubscribeResponse response;
    DeliveryBatch& batch = *response.mutable_deliveries();
    for (int i = 0; i < kBatch && done < deliveries; ++i, ++done) {
      std::string bytes = stored[static_cast<size_t>(done) % stored.size()];  // the SQLite copy
      Delivery delivery;
      if constexpr (kBytes) {
        const auto facts = switchboard::store::InspectArchivedEvent(bytes);
        if (!facts.ok()) Die(facts.status().ToString());
        switchboard::store::ClaimedDelivery claimed;
        claimed.delivery_id = absl::StrCat(done + 1, ".1");
        claimed.attempt = 1;
        claimed.event_bytes = std::move(bytes);
        claimed.received_at = facts->received_at;
        claimed.matched_rules = {"all"};
        claimed.lease_expires_at = lease_end;
        delivery = switchboard::delivery::MakeDelivery(claimed);
      } else {
        EmailEvent event;
        if (!event.ParseFromString(bytes)) Die("stored event does not parse");
        delivery.set_delivery_id(absl::StrCat(done + 1, ".1"));
        delivery.set_attempt(1);
        *delivery.mutable_event() = std::move(event);
        delivery.add_matched_rules("all");
        switchboard::SetTimestamp(lease_end, delivery.mutable_lease_expires_at());
      }
      *batch.add_deliveries() = std::move(delivery);
    }
    const std::string frame = response.SerializeAsString();
    frame_bytes += static_cast<int64_t>(frame.size());
    if (check) {
      SubscribeResponse received;
      if (!received.ParseFromString(frame)) Die("a frame does not parse");
      const int first = done - received.deliveries().deliveries_size();
      for (int i = 0; i < received.deliveries().deliveries_size(); ++i) {
        if (received.deliveries().deliveries(i).event().SerializeAsString() !=
            stored[static_cast<size_t>(first + i) % stored.size()]) {
          Die(kBytes ? "bytes: an event differs" : "parse: an event differs");
        }
      }
    }
  }
  const double cpu = ThreadCpuMicros() - start;
  if (frame_bytes == 0) Die("nothing serialized");
  return cpu / deliveries;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string fixture = "tests/testdata/fixtures/sendgrid/all-events.batch.json";
  int deliveries = 200000;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--fixture") {
      fixture = argv[i + 1];
    } else if (flag == "--deliveries") {
      deliveries = std::atoi(argv[i + 1]);
    } else if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (deliveries < kBatch || rounds < 1) Die("--deliveries >= 256 and --rounds >= 1");
  const std::vector<std::string> stored = StoredEvents(fixture);
  size_t total = 0;
  for (const std::string& s : stored) total += s.size();
  std::printf("%zu stored events from %s, %zu bytes on average; %d deliveries per way and round\n",
              stored.size(), fixture.c_str(), total / stored.size(), deliveries);
  // Once each with the check, not timed.
  Run<false>(stored, kBatch * 4, true);
  Run<true>(stored, kBatch * 4, true);
  std::vector<double> parse, bytes, ratio;
  for (int round = 0; round < rounds; ++round) {
    double p = 0;
    double b = 0;
    if (round % 2 == 0) {
      p = Run<false>(stored, deliveries, false);
      b = Run<true>(stored, deliveries, false);
    } else {
      b = Run<true>(stored, deliveries, false);
      p = Run<false>(stored, deliveries, false);
    }
    parse.push_back(p);
    bytes.push_back(b);
    ratio.push_back(b / p);
    std::printf("round %d: parse %.3f us, bytes %.3f us per delivery, bytes/parse %.3f\n",
                round + 1, p, b, b / p);
  }
  std::printf("median: parse %.3f us, bytes %.3f us per delivery, bytes/parse %.3f (%.3f-%.3f)\n",
              Median(parse), Median(bytes), Median(ratio),
              *std::min_element(ratio.begin(), ratio.end()),
              *std::max_element(ratio.begin(), ratio.end()));
  return 0;
}
