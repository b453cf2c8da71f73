#include "router/metrics/registry.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Expected lines follow the text format 0.0.4 spec
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).

TEST(RegistryTest, CounterWithLabelsRendersHelpTypeAndSeries) {
  Registry registry;
  CounterFamily& requests =
      registry.AddCounter("switchboard_x_total", "Requests.", {"source", "result"});
  requests.WithLabels({"sg", "accepted"}).Increment();
  requests.WithLabels({"sg", "accepted"}).Increment(2);
  requests.WithLabels({"sg", "duplicate"}).Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP switchboard_x_total Requests.\n"
            "# TYPE switchboard_x_total counter\n"
            "switchboard_x_total{source=\"sg\",result=\"accepted\"} 3\n"
            "switchboard_x_total{source=\"sg\",result=\"duplicate\"} 1\n");
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddCounter("c_total", "h", {"v"}).WithLabels({"a\"b\\c\nd"}).Increment();
  EXPECT_THAT(registry.Render(), HasSubstr("c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(RegistryTest, HelpIsEscaped) {
  Registry registry;
  registry.AddCounter("c_total", "line\\one\ntwo");
  EXPECT_THAT(registry.Render(), HasSubstr("# HELP c_total line\\\\one\\ntwo\n"));
}

TEST(RegistryTest, LabelLessFamiliesShowTheirSeriesAtOnce) {
  Registry registry;
  registry.AddGauge("g", "gauge");
  EXPECT_THAT(registry.Render(), HasSubstr("\ng 0\n"));
}

TEST(RegistryTest, LabelledSeriesAppearOnFirstUse) {
  Registry registry;
  registry.AddCounter("c_total", "h", {"a"});
  EXPECT_EQ(registry.Render(), "# HELP c_total h\n# TYPE c_total counter\n");
}

TEST(RegistryTest, GaugeValuesKeepUnixSecondsExactAndFractions) {
  Registry registry;
  GaugeFamily& gauge = registry.AddGauge("t_seconds", "h", {"s"});
  gauge.WithLabels({"a"}).Set(1764446400);
  gauge.WithLabels({"b"}).Set(0.25);
  gauge.WithLabels({"c"}).Set(5);
  gauge.WithLabels({"c"}).Add(-7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("t_seconds{s=\"a\"} 1764446400\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds{s=\"b\"} 0.25\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds{s=\"c\"} -2\n"));
}

TEST(RegistryTest, FormatValueSpecialValues) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  HistogramFamily& latency = registry.AddHistogram("l_seconds", "h", {"a"}, {0.1, 1});
  Histogram& h = latency.WithLabels({"x"});
  h.Observe(0.05);
  h.Observe(0.1);  // le is "less or equal": counts in the 0.1 bucket
  h.Observe(0.5);
  h.Observe(3);
  EXPECT_EQ(registry.Render(),
            "# HELP l_seconds h\n"
            "# TYPE l_seconds histogram\n"
            "l_seconds_bucket{a=\"x\",le=\"0.1\"} 2\n"
            "l_seconds_bucket{a=\"x\",le=\"1\"} 3\n"
            "l_seconds_bucket{a=\"x\",le=\"+Inf\"} 4\n"
            "l_seconds_sum{a=\"x\"} 3.65\n"
            "l_seconds_count{a=\"x\"} 4\n");
}

TEST(RegistryTest, SameRegistrationTwiceSharesTheFamily) {
  Registry registry;
  CounterFamily& a = registry.AddCounter("c_total", "h", {"s"});
  CounterFamily& b = registry.AddCounter("c_total", "h", {"s"});
  EXPECT_EQ(&a, &b);
  a.WithLabels({"x"}).Increment();
  EXPECT_EQ(b.WithLabels({"x"}).Value(), 1u);
}

TEST(RegistryTest, ConflictsAndInvalidNamesAreDetachedNotRendered) {
  Registry registry;
  registry.AddCounter("c_total", "h", {"s"});
  GaugeFamily& clash = registry.AddGauge("c_total", "h", {"s"});
  clash.WithLabels({"x"}).Set(5);  // works, but is not exported
  registry.AddCounter("9bad", "h").WithLabels({}).Increment();
  registry.AddCounter("ok_total", "h", {"le-bad"}).WithLabels({"v"}).Increment();
  registry.AddHistogram("h_seconds", "h", {"le"}, {1});
  registry.AddHistogram("h2_seconds", "h", {}, {2, 1});
  const std::string text = registry.Render();
  EXPECT_THAT(text, Not(HasSubstr("gauge")));
  EXPECT_THAT(text, Not(HasSubstr("9bad")));
  EXPECT_THAT(text, Not(HasSubstr("ok_total")));
  EXPECT_THAT(text, Not(HasSubstr("h_seconds")));
  EXPECT_THAT(text, Not(HasSubstr("h2_seconds")));
}

TEST(RegistryTest, MissingLabelValuesAreEmptyAndExtraOnesIgnored) {
  Registry registry;
  CounterFamily& c = registry.AddCounter("c_total", "h", {"a", "b"});
  c.WithLabels({"x"}).Increment();
  c.WithLabels({"x", "", "ignored"}).Increment();
  EXPECT_THAT(registry.Render(), HasSubstr("c_total{a=\"x\",b=\"\"} 2\n"));
}

TEST(RegistryTest, CollectorsRunBeforeEveryRender) {
  Registry registry;
  Gauge& gauge = registry.AddGauge("g", "h").WithLabels({});
  int runs = 0;
  registry.AddCollector([&] { gauge.Set(++runs); });
  EXPECT_THAT(registry.Render(), HasSubstr("\ng 1\n"));
  EXPECT_THAT(registry.Render(), HasSubstr("\ng 2\n"));
}

TEST(RegistryTest, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  CounterFamily& c = registry.AddCounter("c_total", "h", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, &registry] {
      for (int i = 0; i < 10000; ++i) c.WithLabels({"same"}).Increment();
      registry.Render();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.WithLabels({"same"}).Value(), 40000u);
}

}  // namespace
}  // namespace switchboard::metrics
