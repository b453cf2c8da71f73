#include "router/app/fetching_certificate_source.h"

#include <utility>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "spdlog/spdlog.h"

namespace switchboard::app {

FetchingCertificateSource::FetchingCertificateSource(FetchFn fetch, AllowFn allow,
                                                     const Clock& clock, Options options)
    : fetch_(std::move(fetch)),
      allow_(std::move(allow)),
      clock_(clock),
      options_(options),
      queue_(options.max_pending) {}

absl::StatusOr<std::string> FetchingCertificateSource::Get(std::string_view url) const {
  if (absl::Status allowed = allow_(url); !allowed.ok()) {
    return absl::UnavailableError(absl::StrCat("SNS certificate ", std::string(url),
                                               " is not fetched: ", allowed.message()));
  }
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(url);
  if (it != entries_.end()) {
    const Entry& entry = it->second;
    switch (entry.state) {
      case Entry::State::kReady:
        return entry.pem;
      case Entry::State::kPending:
        return absl::UnavailableError(
            absl::StrCat("SNS certificate ", std::string(url), " is being fetched; retry"));
      case Entry::State::kFailed:
        if (clock_.Now() - entry.at < options_.failure_ttl) {
          return absl::UnavailableError(absl::StrCat("SNS certificate ", std::string(url),
                                                     " could not be fetched: ", entry.error));
        }
        break;  // the failure is old: fetch again
    }
  } else if (entries_.size() >= options_.max_entries) {
    EvictOne();
  }
  std::string key(url);
  if (!queue_.Post([this, key] { Fetch(key); })) {
    return absl::UnavailableError(absl::StrCat("SNS certificate ", key,
                                               ": too many certificate fetches pending; retry"));
  }
  entries_[key] = Entry{};
  return absl::UnavailableError(
      absl::StrCat("SNS certificate ", key, " is being fetched; retry"));
}

void FetchingCertificateSource::Fetch(const std::string& url) const {
  absl::StatusOr<std::string> pem = fetch_(url);
  if (pem.ok()) {
    if (auto cert = crypto::ParseRsaCertificate(*pem); !cert.ok()) {
      pem = absl::UnavailableError(
          absl::StrCat("the body is not an RSA certificate: ", cert.status().message()));
    }
  }
  boost::json::object log{{"event", "sns_certificate"}, {"url", url}};
  if (pem.ok()) {
    log["outcome"] = "fetched";
    spdlog::info(boost::json::serialize(log));
  } else {
    log["outcome"] = "failed";
    log["error"] = std::string(pem.status().message());
    spdlog::warn(boost::json::serialize(log));
  }
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[url];
  entry.at = clock_.Now();
  if (pem.ok()) {
    entry.state = Entry::State::kReady;
    entry.pem = *std::move(pem);
  } else {
    entry.state = Entry::State::kFailed;
    entry.error = std::string(pem.status().message());
  }
}

void FetchingCertificateSource::EvictOne() const {
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.state == Entry::State::kPending) continue;
    if (it->second.state == Entry::State::kFailed) {
      victim = it;
      break;
    }
    if (victim == entries_.end() || it->second.at < victim->second.at) victim = it;
  }
  if (victim != entries_.end()) entries_.erase(victim);
}

}  // namespace switchboard::app
