// Rule matching benchmark (issue 5, Must show 1): RuleSet::Route over a 1,000-rule mixed set
// (exact, domain, plus-tag, regex, types, metadata, any/all/not, a few stop rules) and a mix of
// events shaped like production traffic (mostly delivered/opened, some bounces, complaints and
// replies; recipients hitting and missing every kind of pattern, some IDN domains), on one
// thread pinned to one core. Prints Google Benchmark's mean plus p50/p99/max per Route call as
// counters (each call timed with steady_clock, which adds ~20-30 ns to every sample).
//   build/<dir>/bench/rules/rules_bench [--benchmark_min_time=2]
#include <benchmark/benchmark.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "router/config/config.h"
#include "router/routing/rule_set.h"
#include "switchboard/v1/email_event.pb.h"

namespace {

using switchboard::config::MatchConfig;
using switchboard::config::MetadataMatchConfig;
using switchboard::config::RuleConfig;
namespace v1 = switchboard::v1;

constexpr int kRules = 1000;
constexpr int kEvents = 20000;
const std::vector<std::string> kAgents = {"audit", "suppression", "support", "billing", "ops"};

MatchConfig Recipient(std::string pattern) {
  MatchConfig m;
  m.recipient = {std::move(pattern)};
  return m;
}

// Rule i: one of eight shapes, so every predicate kind is about 1/8 of the set.
RuleConfig MakeRule(int i) {
  RuleConfig rule;
  rule.name = absl::StrCat("rule-", i);
  rule.agents = {kAgents[i % kAgents.size()]};
  rule.priority = i % 7 - 3;
  MatchConfig& m = rule.match;
  switch (i % 8) {
    case 0:  // exact
      m.recipient = {absl::StrCat("user", i, "@customer", i % 50, ".example")};
      break;
    case 1:  // whole domain
      m.recipient = {absl::StrCat("*@tenant", i, ".example")};
      m.types = {"bounced", "complained", "dropped"};
      break;
    case 2:  // plus tag
      m.recipient = {absl::StrCat("team", i, "+*@example.com")};
      break;
    case 3:  // RE2
      m.recipient_regex = {absl::StrCat("bounce-", i, "-[0-9]+@.*\\.example\\.org")};
      break;
    case 4:  // types + metadata equals
      m.types = {"bounced", "complained"};
      m.metadata = {{"tenant", MetadataMatchConfig{{}, {absl::StrCat("t", i)}}}};
      break;
    case 5:  // metadata in / prefix
      m.metadata = {
          {"plan", MetadataMatchConfig{MetadataMatchConfig::Op::kIn, {"pro", "team", "ent"}}},
          {"customer", MetadataMatchConfig{MetadataMatchConfig::Op::kPrefix,
                                           {absl::StrCat("cus_", i, "_")}}}};
      break;
    case 6:  // any
      m.any = {Recipient(absl::StrCat("*@shop", i, ".example")), MatchConfig{}};
      m.any[1].tags = {absl::StrCat("campaign-", i)};
      break;
    default: {  // all + not, every 56th with stop
      MatchConfig types;
      types.types = {"received"};
      MatchConfig sources;
      sources.sources = {absl::StrCat("inbound-", i % 5)};
      MatchConfig negated = Recipient(absl::StrCat("*@internal", i, ".example"));
      MatchConfig not_internal;
      not_internal.negated = {negated};
      m.all = {types, sources, not_internal};
      rule.stop = i % 56 == 7;
      break;
    }
  }
  return rule;
}

v1::EmailEvent MakeEvent(std::mt19937& rng) {
  static const std::pair<v1::EventType, int> kTypes[] = {
      {v1::EVENT_TYPE_DELIVERED, 50}, {v1::EVENT_TYPE_OPENED, 20}, {v1::EVENT_TYPE_CLICKED, 8},
      {v1::EVENT_TYPE_BOUNCED, 8},    {v1::EVENT_TYPE_DEFERRED, 5}, {v1::EVENT_TYPE_RECEIVED, 5},
      {v1::EVENT_TYPE_COMPLAINED, 2}, {v1::EVENT_TYPE_UNSUBSCRIBED, 2}};
  int pick = std::uniform_int_distribution<int>(0, 99)(rng);
  v1::EmailEvent event;
  for (const auto& [type, weight] : kTypes) {
    if (pick < weight) {
      event.set_type(type);
      break;
    }
    pick -= weight;
  }
  const int i = std::uniform_int_distribution<int>(0, kRules - 1)(rng);
  std::string recipient;
  switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
    case 0: recipient = absl::StrCat("user", i, "@customer", i % 50, ".example"); break;
    case 1: recipient = absl::StrCat("someone@tenant", i, ".example"); break;
    case 2: recipient = absl::StrCat("team", i, "+inv-", i * 7, "@example.com"); break;
    case 3: recipient = absl::StrCat("bounce-", i, "-", i * 13, "@mx.example.org"); break;
    case 4: recipient = absl::StrCat("buyer", i, "@shop", i, ".example"); break;
    case 5: recipient = absl::StrCat("kunde", i, "@bücher", i % 10, ".example"); break;  // IDN
    default: recipient = absl::StrCat("first.last", i, "@gmail.com"); break;  // matches little
  }
  event.set_recipient(recipient);
  event.set_recipient_key(recipient);
  event.set_provider(i % 2 == 0 ? "sendgrid" : "resend");
  event.set_source(absl::StrCat("inbound-", i % 7));
  (*event.mutable_metadata())["tenant"] = absl::StrCat("t", i);
  (*event.mutable_metadata())["plan"] = i % 3 == 0 ? "pro" : "free";
  (*event.mutable_metadata())["customer"] = absl::StrCat("cus_", i, "_x");
  if (i % 4 == 0) event.add_tags(absl::StrCat("campaign-", i));
  return event;
}

struct Fixture {
  std::shared_ptr<const switchboard::routing::RuleSet> rules;
  std::vector<v1::EmailEvent> events;
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    std::vector<RuleConfig> configs;
    for (int i = 0; i < kRules; ++i) configs.push_back(MakeRule(i));
    auto rules = switchboard::routing::RuleSet::Create(configs, kAgents);
    if (!rules.ok()) {
      std::fprintf(stderr, "rule set: %s\n", std::string(rules.status().message()).c_str());
      std::abort();
    }
    auto* out = new Fixture{*rules, {}};
    std::mt19937 rng(42);
    for (int i = 0; i < kEvents; ++i) out->events.push_back(MakeEvent(rng));
    return out;
  }();
  return *fixture;
}

double Percentile(std::vector<int64_t>& samples, double p) {
  const size_t k = std::min(samples.size() - 1, static_cast<size_t>(p * samples.size()));
  std::nth_element(samples.begin(), samples.begin() + k, samples.end());
  return static_cast<double>(samples[k]);
}

void BM_Route1000Rules(benchmark::State& state) {
  const Fixture& f = GetFixture();
  std::vector<int64_t> samples;
  samples.reserve(1 << 20);
  size_t next = 0;
  size_t targets = 0;
  for (auto _ : state) {
    const v1::EmailEvent& event = f.events[next];
    next = next + 1 == f.events.size() ? 0 : next + 1;
    const auto start = std::chrono::steady_clock::now();
    auto routed = f.rules->Route(event);
    const auto stop = std::chrono::steady_clock::now();
    targets += routed.size();
    benchmark::DoNotOptimize(routed);
    if (samples.size() < samples.capacity()) {
      samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
    }
  }
  if (samples.empty()) return;
  state.counters["p50_ns"] = Percentile(samples, 0.50);
  state.counters["p99_ns"] = Percentile(samples, 0.99);
  state.counters["max_ns"] = static_cast<double>(*std::max_element(samples.begin(), samples.end()));
  state.counters["targets_per_event"] =
      static_cast<double>(targets) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Route1000Rules)->Unit(benchmark::kMicrosecond);

void BM_Explain1000Rules(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.rules->Explain(f.events[next]));
    next = next + 1 == f.events.size() ? 0 : next + 1;
  }
}
BENCHMARK(BM_Explain1000Rules)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // One core: the thread stays on the CPU it started on.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof(one), &one);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  GetFixture();  // built before timing starts
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
