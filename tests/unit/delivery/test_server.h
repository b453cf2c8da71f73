#pragma once

// An in-process AgentService on 127.0.0.1 (port 0 by default, or a given port to "restart" on the
// same address) over a FakeStore, for the delivery and SDK tests.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "router/common/clock.h"
#include "router/delivery/agent_service.h"
#include "router/delivery/dispatcher.h"
#include "tests/unit/delivery/fake_store.h"

namespace switchboard::testing {

inline constexpr char kAuditToken[] = "audit-token-0123456789";
inline constexpr char kSuppressionToken[] = "suppression-token-0123456789";

struct TestServerOptions {
  config::DeliveryConfig delivery;
  absl::Duration hello_timeout = absl::Seconds(10);
  std::vector<config::AgentConfig> agents = {
      {.name = "audit", .tokens = {"old-rotated-token", kAuditToken}, .delivery = {}},
      {.name = "suppression", .tokens = {kSuppressionToken}, .delivery = {}}};
  int port = 0;
};

class TestServer {
 public:
  TestServer(store::Store& store, TestServerOptions options)
      : dispatcher_(std::make_unique<delivery::Dispatcher>(store, SystemClock::Get(),
                                                           options.delivery)),
        service_(std::make_unique<delivery::AgentServiceImpl>(
            *dispatcher_, options.agents,
            delivery::AgentServiceOptions{options.delivery, "test-server", options.hello_timeout})) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", options.port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
  }
  ~TestServer() { Stop(); }

  // Ends all streams with UNAVAILABLE and stops serving.
  void Stop() {
    if (server_ == nullptr) return;
    service_->Shutdown();
    server_->Shutdown();
    server_.reset();
  }

  bool ok() const { return server_ != nullptr && port_ > 0; }
  int port() const { return port_; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  delivery::Dispatcher& dispatcher() { return *dispatcher_; }
  delivery::AgentServiceImpl& service() { return *service_; }

 private:
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  std::unique_ptr<delivery::AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace switchboard::testing
