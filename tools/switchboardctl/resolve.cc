#include "tools/switchboardctl/resolve.h"

#include <future>
#include <memory>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace switchboard::ctl {

namespace {

Endpoints SystemResolve(const std::string& host, const std::string& port,
                        boost::system::error_code& ec) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  return resolver.resolve(host, port, ec);
}

struct Answer {
  Endpoints endpoints;
  boost::system::error_code ec;
};

}  // namespace

absl::StatusOr<Endpoints> ResolveBefore(const std::string& host, const std::string& port,
                                        std::chrono::steady_clock::time_point deadline,
                                        ResolveFunction resolve) {
  if (!resolve) resolve = SystemResolve;
  auto promise = std::make_shared<std::promise<Answer>>();
  std::future<Answer> answer = promise->get_future();
  std::thread([promise, resolve = std::move(resolve), host, port] {
    Answer result;
    result.endpoints = resolve(host, port, result.ec);
    promise->set_value(std::move(result));
  }).detach();
  if (answer.wait_until(deadline) != std::future_status::ready) {
    return absl::DeadlineExceededError(absl::StrCat("resolve ", host, ": no answer in time"));
  }
  Answer result = answer.get();
  if (result.ec) {
    return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", result.ec.message()));
  }
  return std::move(result.endpoints);
}

}  // namespace switchboard::ctl
