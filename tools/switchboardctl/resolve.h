#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "absl/status/statusor.h"

namespace switchboard::ctl {

using Endpoints = boost::asio::ip::tcp::resolver::results_type;
// A blocking lookup of `host`:`port`; sets `ec` on failure.
using ResolveFunction = std::function<Endpoints(const std::string& host, const std::string& port,
                                                boost::system::error_code& ec)>;

// Looks `host`:`port` up with `resolve` (empty: the system's getaddrinfo, through asio's
// tcp::resolver) on a thread of its own, and waits for the answer until `deadline`.
// getaddrinfo cannot be cancelled: when the deadline comes first, the lookup is left to finish
// on that detached thread, which holds copies of everything it uses.
// kDeadlineExceeded: no answer by `deadline`; kUnavailable: the lookup failed (the resolver's
// message).
absl::StatusOr<Endpoints> ResolveBefore(const std::string& host, const std::string& port,
                                        std::chrono::steady_clock::time_point deadline,
                                        ResolveFunction resolve = {});

}  // namespace switchboard::ctl
