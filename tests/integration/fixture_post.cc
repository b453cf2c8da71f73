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

}  // namespace switchboard::testing
