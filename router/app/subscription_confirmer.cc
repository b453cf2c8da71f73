#include "router/app/subscription_confirmer.h"

#include <utility>

#include <boost/json.hpp>

#include "spdlog/spdlog.h"

namespace switchboard::app {
namespace {

// The SubscriptionArn of SNS's ConfirmSubscriptionResponse XML, or "" when absent.
std::string SubscriptionArn(std::string_view response) {
  constexpr std::string_view kOpen = "<SubscriptionArn>";
  constexpr std::string_view kClose = "</SubscriptionArn>";
  const size_t begin = response.find(kOpen);
  if (begin == std::string_view::npos) return "";
  const size_t end = response.find(kClose, begin + kOpen.size());
  if (end == std::string_view::npos) return "";
  return std::string(response.substr(begin + kOpen.size(), end - begin - kOpen.size()));
}

void Log(bool ok, std::string_view source, std::string_view url, std::string_view outcome,
         std::string_view key, std::string_view value) {
  boost::json::object log{{"event", "sns_subscription_confirm"},
                          {"source", source},
                          {"url", url},
                          {"outcome", outcome}};
  if (!key.empty()) log[key] = value;
  if (ok) {
    spdlog::info(boost::json::serialize(log));
  } else {
    spdlog::warn(boost::json::serialize(log));
  }
}

class ConfirmingProvider final : public providers::Provider {
 public:
  ConfirmingProvider(std::unique_ptr<providers::Provider> inner, std::string source,
                     SubscriptionConfirmer& confirmer)
      : inner_(std::move(inner)), source_(std::move(source)), confirmer_(confirmer) {}

  absl::Status Verify(const providers::WebhookRequest& request) const override {
    return inner_->Verify(request);
  }
  absl::StatusOr<providers::DecodeResult> Decode(
      const providers::WebhookRequest& request) const override {
    absl::StatusOr<providers::DecodeResult> result = inner_->Decode(request);
    if (result.ok() && !result->confirm_url.empty()) {
      confirmer_.Confirm(source_, result->confirm_url);
    }
    return result;
  }
  bool UsesBasicAuth() const override { return inner_->UsesBasicAuth(); }
  absl::Duration Tolerance() const override { return inner_->Tolerance(); }
  bool AcceptsProbes() const override { return inner_->AcceptsProbes(); }
  const providers::Provider& inner() const { return *inner_; }

 private:
  const std::unique_ptr<providers::Provider> inner_;
  const std::string source_;
  SubscriptionConfirmer& confirmer_;
};

}  // namespace

SubscriptionConfirmer::SubscriptionConfirmer(GetFn get, AllowFn allow, size_t max_pending)
    : get_(std::move(get)), allow_(std::move(allow)), queue_(max_pending) {}

void SubscriptionConfirmer::Confirm(std::string_view source, std::string_view url) {
  if (!queue_.Post([this, s = std::string(source), u = std::string(url)] { Run(s, u); })) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    Log(false, source, url, "dropped", "error", "too many confirmations pending");
  }
}

void SubscriptionConfirmer::Run(const std::string& source, const std::string& url) {
  if (absl::Status allowed = allow_(url); !allowed.ok()) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    Log(false, source, url, "refused", "error", std::string(allowed.message()));
    return;
  }
  absl::StatusOr<std::string> response = get_(url);
  if (!response.ok()) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    Log(false, source, url, "failed", "error", std::string(response.status().message()));
    return;
  }
  counters_.confirmed.fetch_add(1, std::memory_order_relaxed);
  Log(true, source, url, "confirmed", "subscription_arn", SubscriptionArn(*response));
}

std::unique_ptr<providers::Provider> WithSubscriptionConfirmation(
    std::unique_ptr<providers::Provider> inner, std::string source,
    SubscriptionConfirmer& confirmer) {
  return std::make_unique<ConfirmingProvider>(std::move(inner), std::move(source), confirmer);
}

const providers::Provider& WithoutSubscriptionConfirmation(const providers::Provider& provider) {
  const auto* wrapped = dynamic_cast<const ConfirmingProvider*>(&provider);
  return wrapped == nullptr ? provider : wrapped->inner();
}

}  // namespace switchboard::app
