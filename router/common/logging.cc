#include "router/common/logging.h"

#include <memory>
#include <string>

#include <boost/json.hpp>

#include "absl/time/time.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace switchboard {
namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    absl::Time t = absl::FromChrono(msg.time);
    std::string line = "{\"time\":\"";
    line += absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
    line += "\",\"level\":\"";
    auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\"";
    std::string_view text(msg.payload.data(), msg.payload.size());
    if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
      if (text.size() > 2) {
        line += ",";
        line.append(text.substr(1, text.size() - 2));
      }
    } else {
      line += ",\"msg\":";
      line += boost::json::serialize(boost::json::string(text));
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void InitJsonLogging() {
  auto logger = std::make_shared<spdlog::logger>(
      "switchboard", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(std::make_unique<JsonFormatter>());
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace switchboard
