#include "router/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace switchboard::metrics {
namespace {

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                       (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool ValidBounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

// HELP text escaping of the text format: backslash and line feed.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` (with an extra label appended when `extra_name` is set), or "" with no labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    absl::StrAppend(&out, std::string(extra_name), "=\"", std::string(extra_value), "\"");
  }
  out += '}';
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Gauge::Add(double delta) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void Histogram::Observe(double value) {
  // The first bucket whose upper bound is >= value ("le": less or equal).
  const size_t index =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  if (index < counts_.size()) ++counts_[index];
  ++count_;
  sum_ += value;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  snapshot.cumulative.reserve(counts_.size());
  for (uint64_t c : counts_) {
    running += c;
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = count_;
  snapshot.sum = sum_;
  return snapshot;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integers (counts, unix seconds) exactly, without an exponent.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest form that reads back as the same double ("0.1", not "0.10000000000000001").
  for (int precision = 15; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

void* Registry::Register(std::string name, std::string help, MetricType type,
                         std::vector<std::string> label_names, std::vector<double> bounds) {
  bool valid = ValidName(name, /*allow_colon=*/true) && ValidBounds(bounds);
  for (const std::string& label : label_names) {
    valid = valid && ValidName(label, /*allow_colon=*/false) && !label.starts_with("__") &&
            !(type == MetricType::kHistogram && label == "le");
  }
  if (!valid) {
    spdlog::error("metrics: invalid family {} (name, label names or buckets); not exported", name);
    return nullptr;
  }
  absl::MutexLock lock(&mu_);
  for (const Entry& entry : entries_) {
    if (entry.name != name) continue;
    if (entry.type == type && entry.label_names == label_names && entry.bounds == bounds) {
      return entry.family;
    }
    spdlog::error("metrics: {} registered twice with different types or labels; not exported",
                  name);
    return nullptr;
  }
  void* family = nullptr;
  switch (type) {
    case MetricType::kCounter:
      counters_.emplace_back(new CounterFamily(name, label_names, {}));
      family = counters_.back().get();
      break;
    case MetricType::kGauge:
      gauges_.emplace_back(new GaugeFamily(name, label_names, {}));
      family = gauges_.back().get();
      break;
    case MetricType::kHistogram:
      histograms_.emplace_back(new HistogramFamily(name, label_names, bounds));
      family = histograms_.back().get();
      break;
  }
  entries_.push_back(Entry{std::move(name), std::move(help), type, std::move(label_names),
                           std::move(bounds), family});
  return family;
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  if (void* family = Register(name, std::move(help), MetricType::kCounter, label_names, {})) {
    return *static_cast<CounterFamily*>(family);
  }
  absl::MutexLock lock(&mu_);
  counters_.emplace_back(new CounterFamily(std::move(name), std::move(label_names), {}));
  return *counters_.back();
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  if (void* family = Register(name, std::move(help), MetricType::kGauge, label_names, {})) {
    // A label-less gauge shows its one series from the start.
    auto& gauges = *static_cast<GaugeFamily*>(family);
    if (gauges.label_names().empty()) gauges.WithLabels({});
    return gauges;
  }
  absl::MutexLock lock(&mu_);
  gauges_.emplace_back(new GaugeFamily(std::move(name), std::move(label_names), {}));
  return *gauges_.back();
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  if (void* family =
          Register(name, std::move(help), MetricType::kHistogram, label_names, bounds)) {
    auto& histograms = *static_cast<HistogramFamily*>(family);
    if (histograms.label_names().empty()) histograms.WithLabels({});
    return histograms;
  }
  absl::MutexLock lock(&mu_);
  histograms_.emplace_back(
      new HistogramFamily(std::move(name), std::move(label_names), std::move(bounds)));
  return *histograms_.back();
}

void Registry::AddCollector(std::function<void()> collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  std::vector<std::function<void()>> collectors;
  std::vector<Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
    entries = entries_;
  }
  {
    absl::MutexLock lock(&collect_mu_);
    for (const auto& collect : collectors) collect();
  }
  std::string out;
  for (const Entry& entry : entries) {
    absl::StrAppend(&out, "# HELP ", entry.name, " ", EscapeHelp(entry.help), "\n# TYPE ",
                    entry.name, " ", TypeName(entry.type), "\n");
    switch (entry.type) {
      case MetricType::kCounter:
        for (const auto& [values, counter] :
             static_cast<const CounterFamily*>(entry.family)->Series()) {
          absl::StrAppend(&out, entry.name, LabelSet(entry.label_names, values), " ",
                          counter->Value(), "\n");
        }
        break;
      case MetricType::kGauge:
        for (const auto& [values, gauge] :
             static_cast<const GaugeFamily*>(entry.family)->Series()) {
          absl::StrAppend(&out, entry.name, LabelSet(entry.label_names, values), " ",
                          FormatValue(gauge->Value()), "\n");
        }
        break;
      case MetricType::kHistogram:
        for (const auto& [values, histogram] :
             static_cast<const HistogramFamily*>(entry.family)->Series()) {
          const Histogram::Snapshot snapshot = histogram->Read();
          for (size_t i = 0; i < snapshot.bounds.size(); ++i) {
            absl::StrAppend(&out, entry.name, "_bucket",
                            LabelSet(entry.label_names, values, "le",
                                     FormatValue(snapshot.bounds[i])),
                            " ", snapshot.cumulative[i], "\n");
          }
          absl::StrAppend(&out, entry.name, "_bucket",
                          LabelSet(entry.label_names, values, "le", "+Inf"), " ", snapshot.count,
                          "\n", entry.name, "_sum", LabelSet(entry.label_names, values), " ",
                          FormatValue(snapshot.sum), "\n", entry.name, "_count",
                          LabelSet(entry.label_names, values), " ", snapshot.count, "\n");
        }
        break;
    }
  }
  return out;
}

}  // namespace switchboard::metrics
