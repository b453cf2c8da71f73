#include "tests/integration/raw_agent.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace switchboard::testing {

using google::protobuf::util::TimeUtil;

RawAgent::RawAgent(const std::string& target, const std::string& agent, const std::string& token,
                   uint32_t max_in_flight) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  stub_ = v1::AgentService::NewStub(channel);
  context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  stream_ = stub_->Subscribe(&context_);
  v1::SubscribeRequest hello;
  hello.mutable_hello()->set_agent(agent);
  hello.mutable_hello()->set_max_in_flight(max_in_flight);
  hello.mutable_hello()->set_instance("test");
  Write(hello);
  reader_ = std::thread([this] { ReadLoop(); });
}

RawAgent::~RawAgent() {
  Cancel();
  if (reader_.joinable()) reader_.join();
}

void RawAgent::ReadLoop() {
  v1::SubscribeResponse res;
  while (stream_->Read(&res)) {
    absl::MutexLock lock(&mu_);
    if (res.has_welcome()) {
      welcome_ = res.welcome();
      welcomed_ = true;
    } else if (res.has_delivery()) {
      pending_.push_back(res.delivery());
      received_at_.push_back(absl::Now());
    }
  }
  grpc::Status status = stream_->Finish();
  absl::MutexLock lock(&mu_);
  status_ = status;
  ended_ = true;
}

grpc::Status RawAgent::WaitWelcome(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return welcomed_ || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (welcomed_) return grpc::Status::OK;
  if (ended_) return status_;
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no welcome");
}

std::optional<v1::Delivery> RawAgent::Next(absl::Duration timeout, absl::Time* received_at) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !pending_.empty() || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (pending_.empty()) return std::nullopt;
  v1::Delivery d = std::move(pending_.front());
  pending_.pop_front();
  if (received_at != nullptr) *received_at = received_at_.front();
  received_at_.pop_front();
  return d;
}

bool RawAgent::Write(const v1::SubscribeRequest& req) {
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(req);
}

bool RawAgent::Ack(const std::string& id) {
  v1::SubscribeRequest req;
  req.mutable_ack()->set_delivery_id(id);
  return Write(req);
}

bool RawAgent::Nack(const std::string& id, absl::Duration retry_after, const std::string& reason) {
  v1::SubscribeRequest req;
  req.mutable_nack()->set_delivery_id(id);
  *req.mutable_nack()->mutable_retry_after() =
      TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(retry_after));
  req.mutable_nack()->set_reason(reason);
  return Write(req);
}

bool RawAgent::Extend(const std::string& id, absl::Duration extension) {
  v1::SubscribeRequest req;
  req.mutable_extend()->set_delivery_id(id);
  *req.mutable_extend()->mutable_extension() =
      TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(extension));
  return Write(req);
}

void RawAgent::Cancel() { context_.TryCancel(); }

bool RawAgent::Ended() {
  absl::MutexLock lock(&mu_);
  return ended_;
}

grpc::Status RawAgent::FinalStatus() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&ended_));
  return status_;
}

SharedConsumption ConsumeShared(const std::vector<RawAgent*>& instances, int expected,
                                absl::Duration work, const std::function<void()>& produce) {
  absl::Mutex mu;
  SharedConsumption result;
  result.per_instance.assign(instances.size(), 0);
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < instances.size(); ++i) {
    threads.emplace_back([&, i] {
      RawAgent& agent = *instances[i];
      while (total.load() < expected) {
        std::optional<v1::Delivery> d = agent.Next(absl::Seconds(5));
        if (!d) break;
        absl::SleepFor(work);
        {
          absl::MutexLock lock(&mu);
          ++result.times_by_event_id[d->event().id()];
          ++result.per_instance[i];
        }
        ++total;
        agent.Ack(d->delivery_id());
      }
    });
  }
  produce();
  for (std::thread& t : threads) t.join();
  result.total = total.load();
  return result;
}

}  // namespace switchboard::testing
