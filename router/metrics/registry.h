#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace switchboard::metrics {

// A small in-process metrics registry rendered in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format). Debian 12
// ships no C++ Prometheus client (no libprometheus-cpp), hence this one; it does only what the
// router needs: counters, gauges and histograms with labels, and collectors run before rendering.
//
// Usage: register each family once at startup (Registry::AddCounter/AddGauge/AddHistogram), keep
// the returned reference (it lives as long as the registry), and get one labelled series with
// Family::WithLabels({values...}), in the order of the family's label names. Series appear in the
// output from their first WithLabels; a family without labels always shows its one series.
//
// Label values may come from untrusted input; they are escaped (\\, \" and \n) when rendered. Keep
// their set bounded (configured names, enum values): every distinct value is a series kept
// forever.
//
// Thread-safe: every method may be called from any thread. Counter/Gauge updates are lock-free
// atomics; Histogram::Observe takes the histogram's own mutex; WithLabels takes the family's
// mutex (callers on a hot path may keep the returned reference: it stays valid).

// A monotonically increasing count (`_total` names).
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (queue depth, a unix time in seconds).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into cumulative buckets with upper bounds `bounds` (strictly increasing,
// finite; the +Inf bucket is implicit) and keeps their sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // cumulative[i]: observations <= bounds[i]
    uint64_t count = 0;                // all observations (the +Inf bucket)
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket, not cumulative
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// Bucket bounds in seconds for latencies from 1 ms to a minute.
std::vector<double> LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// The series of one metric name, one per distinct list of label values.
template <typename Metric>
class Family {
 public:
  // The series with these label values, created on first use. `values` pairs with the family's
  // label names by position; missing values are taken as "" and extra ones are ignored.
  Metric& WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Every series with its label values (a consistent list; values read afterwards).
  std::vector<std::pair<std::vector<std::string>, const Metric*>> Series() const;

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  const std::string name_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* (not "le" for histograms); `help` is one line of text.
  // Registering a name again with the same type and label names returns the existing family (so
  // two modules may share one). A programming error (invalid name, or a name taken with another
  // type or labels) is logged and answered with a detached family that works but is never
  // rendered: metrics must not take the router down.
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  // `bounds`: see Histogram; invalid bounds (not strictly increasing or not finite) are an error
  // handled as above.
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // Runs before every Render, in registration order, to refresh gauges from in-memory state (for
  // example a dispatcher's stream count). Must be cheap and must not block or call Render.
  void AddCollector(std::function<void()> collector);

  // The text exposition (Content-Type "text/plain; version=0.0.4"): families in registration
  // order, series sorted by label values, each family with its # HELP and # TYPE lines.
  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    void* family;  // Family<Counter|Gauge|Histogram>*, by `type`; owned below
  };
  // The registered family for (name, type, labels), a new one, or nullptr on a conflict/invalid
  // name (then the caller hands out a detached family).
  void* Register(std::string name, std::string help, MetricType type,
                 std::vector<std::string> label_names, std::vector<double> bounds);

  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Every family, rendered (in entries_) or detached.
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex collect_mu_;  // one Render runs the collectors at a time
};

// Escapes a label value for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);
// A sample value in the text format: integers without exponent, +Inf, -Inf, NaN.
std::string FormatValue(double value);

// --- template implementation ---

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& values) {
  std::vector<std::string> key(label_names_.size());
  for (size_t i = 0; i < key.size() && i < values.size(); ++i) key[i] = values[i];
  absl::MutexLock lock(&mu_);
  auto it = series_.find(key);
  if (it == series_.end()) {
    std::unique_ptr<Metric> metric;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      metric = std::make_unique<Histogram>(bounds_);
    } else {
      metric = std::make_unique<Metric>();
    }
    it = series_.emplace(std::move(key), std::move(metric)).first;
  }
  return *it->second;
}

template <typename Metric>
std::vector<std::pair<std::vector<std::string>, const Metric*>> Family<Metric>::Series() const {
  std::vector<std::pair<std::vector<std::string>, const Metric*>> out;
  absl::MutexLock lock(&mu_);
  out.reserve(series_.size());
  for (const auto& [labels, metric] : series_) out.emplace_back(labels, metric.get());
  return out;
}

}  // namespace switchboard::metrics
