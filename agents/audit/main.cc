// switchboard-audit: an example agent that prints every event it receives as one JSON line
// (see audit_handler.h for the format) and acks it.
//
//   switchboard-audit --target HOST:PORT --agent NAME [--token T | env SWITCHBOARD_AGENT_TOKEN]
//                     [--instance LABEL] [--max-in-flight N] [--exit-after N] [--ack-delay MS]
//                     [--no-ack]
//
// Exit status: 0 after --exit-after N events or SIGINT/SIGTERM; 1 if the router refuses the
// agent (bad token, unknown agent); 2 for bad flags.

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "agents/audit/audit_handler.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "switchboard/agent.h"

namespace {

constexpr char kUsage[] =
    "usage: switchboard-audit --target HOST:PORT --agent NAME [--token T] [--instance LABEL]\n"
    "                         [--max-in-flight N] [--exit-after N] [--ack-delay MS] [--no-ack]\n"
    "The token may come from the environment variable SWITCHBOARD_AGENT_TOKEN instead.\n";

int Usage(const std::string& error) {
  std::cerr << "switchboard-audit: " << error << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using switchboard::audit::AuditHandler;
  using switchboard::audit::AuditOptions;
  using switchboard::sdk::Agent;
  using switchboard::sdk::AgentOptions;

  // stdout carries only the JSON lines; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("switchboard-audit"));

  AgentOptions options;
  AuditOptions audit;
  if (const char* token = std::getenv("SWITCHBOARD_AGENT_TOKEN")) options.token = token;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool has_value = false;
    if (const size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (flag == "--no-ack") {
      audit.ack = false;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (!has_value) {
      if (i + 1 >= argc) return Usage(flag + " needs a value");
      value = argv[++i];
    }
    int64_t number = 0;
    if (flag == "--target") {
      options.target = value;
    } else if (flag == "--agent") {
      options.agent = value;
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--instance") {
      options.instance = value;
    } else if (flag == "--max-in-flight") {
      if (!absl::SimpleAtoi(value, &number) || number < 1 || number > 10000) {
        return Usage("--max-in-flight: an integer from 1 to 10000");
      }
      options.max_in_flight = static_cast<uint32_t>(number);
    } else if (flag == "--exit-after") {
      if (!absl::SimpleAtoi(value, &number) || number < 1) {
        return Usage("--exit-after: a positive integer");
      }
      audit.exit_after = number;
    } else if (flag == "--ack-delay") {
      if (!absl::SimpleAtoi(value, &number) || number < 0) {
        return Usage("--ack-delay: milliseconds, >= 0");
      }
      audit.ack_delay = absl::Milliseconds(number);
    } else {
      return Usage("unknown flag " + flag);
    }
  }
  if (options.target.empty()) return Usage("--target is required");
  if (options.agent.empty()) return Usage("--agent is required");
  if (options.token.empty()) return Usage("--token or SWITCHBOARD_AGENT_TOKEN is required");

  // SIGINT/SIGTERM stop the agent gracefully (running handlers finish and ack).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Agent agent(options);
  AuditHandler handler(audit, std::cout, agent);
  agent.On(std::string_view("*"), [&handler](const auto& event, const auto& context) {
    return handler(event, context);
  }).IgnoreError();  // "*" is always valid
  std::thread([&agent, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    agent.Stop();
  }).detach();

  const absl::Status status = agent.Run();
  if (!status.ok()) {
    spdlog::error("switchboard-audit: {}", status.ToString());
    return 1;
  }
  return 0;
}
