#include "tests/integration/fixture_post.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "tools/switchboardctl/http_client.h"

namespace switchboard::testing {

absl::StatusOr<providers::testing::FixtureOutcome> PostAndCollect(
    const RouterProcess& router, RawAgent& agent, const std::string& source,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
  absl::StatusOr<ctl::HttpResult> result = ctl::HttpPost(router.webhook_url(source), headers, body);
  if (!result.ok()) return result.status();
  if (result->status != 200) {
    return absl::FailedPreconditionError(
        absl::StrCat("HTTP ", result->status, " ", result->body, "\n", router.log()));
  }
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(result->body, ec);
  if (ec || !answer.is_object()) {
    return absl::FailedPreconditionError(absl::StrCat("answer is not a JSON object: ", result->body));
  }
  const boost::json::object& o = answer.get_object();
  providers::testing::FixtureOutcome outcome;
  int64_t accepted = 0;
  if (const auto* v = o.if_contains("accepted"); v != nullptr && v->is_int64()) {
    accepted = v->as_int64();
  }
  if (const auto* v = o.if_contains("duplicates"); v != nullptr && v->is_int64()) {
    outcome.duplicates = v->as_int64();
  }
  outcome.control = o.contains("control");
  for (int64_t i = 0; i < accepted; ++i) {
    std::optional<v1::Delivery> delivery = agent.Next();
    if (!delivery) {
      return absl::FailedPreconditionError(
          absl::StrCat("accepted ", accepted, " events, the agent received ", i));
    }
    agent.Ack(delivery->delivery_id());
    outcome.events.push_back(delivery->event());
  }
  return outcome;
}

WebhookAnswer PostForAnswer(const RouterProcess& router, const std::string& source,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
  WebhookAnswer answer;
  absl::StatusOr<ctl::HttpResult> result = ctl::HttpPost(router.webhook_url(source), headers, body);
  if (!result.ok()) {
    answer.error = result.status().ToString();
    return answer;
  }
  answer.status = result->status;
  boost::system::error_code ec;
  const boost::json::value reply = boost::json::parse(result->body, ec);
  if (ec || !reply.is_object()) return answer;
  const boost::json::object& o = reply.get_object();
  const auto count = [&o](const char* name, int64_t& out) {
    const boost::json::value* v = o.if_contains(name);
    if (v == nullptr) return;
    boost::system::error_code number_ec;
    const int64_t n = v->to_number<int64_t>(number_ec);
    if (!number_ec) out = n;
  };
  count("accepted", answer.accepted);
  count("duplicates", answer.duplicates);
  count("quarantined", answer.quarantined);
  if (const auto* v = o.if_contains("control"); v != nullptr && v->is_string()) {
    answer.control = std::string(v->as_string());
  }
  return answer;
}

}  // namespace switchboard::testing
