#include "agents/audit/audit_handler.h"

#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace switchboard::audit {
namespace {

// A JSON string literal (RFC 8259 section 7).
std::string JsonString(const std::string& value) {
  std::string out = "\"";
  for (const unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<std::string> FormatAuditLine(const v1::EmailEvent& event,
                                            const sdk::DeliveryContext& context) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string event_json;
  const auto status = google::protobuf::util::MessageToJsonString(event, &event_json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("event to JSON: ", status.ToString()));
  }
  return absl::StrCat("{\"attempt\":", context.attempt,
                      ",\"delivery_id\":", JsonString(context.delivery_id),
                      ",\"event\":", event_json, "}");
}

sdk::Result AuditHandler::operator()(const v1::EmailEvent& event,
                                     const sdk::DeliveryContext& context) {
  absl::StatusOr<std::string> line = FormatAuditLine(event, context);
  if (!line.ok()) return line.status();
  {
    absl::MutexLock lock(&mu_);
    if (options_.exit_after && printed_ >= *options_.exit_after) {
      return absl::UnavailableError("audit agent is exiting");
    }
    out_ << *line << '\n' << std::flush;
    ++printed_;
    if (options_.exit_after && printed_ == *options_.exit_after) agent_.Stop();
  }
  if (options_.ack_delay > absl::ZeroDuration()) absl::SleepFor(options_.ack_delay);
  if (!options_.ack) return sdk::Result::NoAck();
  return absl::OkStatus();
}

}  // namespace switchboard::audit
