#include "tools/switchboardctl/admin_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "boost/json.hpp"
#include "router/common/admin_status.h"
#include "router/common/read_file.h"

namespace switchboard::ctl {
namespace {

constexpr char kDefaultAddr[] = "127.0.0.1:50051";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string OneLine(std::string text) {
  text = absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
  return std::string(absl::StripAsciiWhitespace(text));
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return absl::StrCat("code ", static_cast<int>(code));
  }
}

// True when a plain YAML scalar `s` would be read back as something other than this string
// (YAML 1.1/1.2 core booleans, nulls and numbers), so it must be quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* const kReserved[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
                                          "null", "~"};
  const std::string lower = absl::AsciiStrToLower(s);
  for (const char* word : kReserved) {
    if (lower == word) return true;
  }
  double number;
  if (absl::SimpleAtod(s, &number)) return true;
  return lower == ".inf" || lower == "-.inf" || lower == ".nan";
}

void Emit(const boost::json::value& value, YAML::Emitter& out) {
  switch (value.kind()) {
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& [key, child] : value.get_object()) {
        out << YAML::Key << std::string(key) << YAML::Value;
        Emit(child, out);
      }
      out << YAML::EndMap;
      break;
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& child : value.get_array()) Emit(child, out);
      out << YAML::EndSeq;
      break;
    case boost::json::kind::string: {
      const std::string s(value.get_string());
      if (s.find('\n') != std::string::npos) {
        out << YAML::Literal << s;
      } else if (NeedsQuotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case boost::json::kind::bool_: out << value.get_bool(); break;
    case boost::json::kind::int64: out << value.get_int64(); break;
    case boost::json::kind::uint64: out << value.get_uint64(); break;
    case boost::json::kind::double_: out << value.get_double(); break;
    case boost::json::kind::null: out << YAML::Null; break;
  }
}

}  // namespace

void AddConnectionFlags(CLI::App* cmd, AdminFlags* flags) {
  cmd->add_option("--addr", flags->addr,
                  "router gRPC address host:port (env SWITCHBOARD_ADDR; default 127.0.0.1:50051)");
  cmd->add_option("--token", flags->token, "admin token (env SWITCHBOARD_ADMIN_TOKEN)");
  cmd->add_option("--ca-file", flags->ca_file,
                  "PEM CA certificates: connect with TLS (env SWITCHBOARD_CA_FILE)");
  cmd->add_option("--timeout", flags->timeout_seconds, "seconds to wait for an answer")
      ->check(PositiveSeconds());
}

CLI::Validator PositiveSeconds() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        double seconds = 0;
        if (absl::SimpleAtod(value, &seconds) && std::isfinite(seconds) && seconds > 0) return "";
        return absl::StrCat("want a number of seconds above 0, got \"", value, "\"");
      },
      "SECONDS>0");
}

void AddAdminFlags(CLI::App* cmd, AdminFlags* flags) {
  AddConnectionFlags(cmd, flags);
  cmd->add_option("-o,--output", flags->output_name, "output format: json or yaml")
      ->check(CLI::IsMember({"json", "yaml"}));
}

absl::StatusOr<AdminClient> AdminClient::Connect(const AdminFlags& flags) {
  const std::string addr = !flags.addr.empty() ? flags.addr : Env("SWITCHBOARD_ADDR");
  const std::string token = !flags.token.empty() ? flags.token : Env("SWITCHBOARD_ADMIN_TOKEN");
  const std::string ca_file = !flags.ca_file.empty() ? flags.ca_file : Env("SWITCHBOARD_CA_FILE");
  if (token.empty()) {
    return absl::InvalidArgumentError(
        "no admin token: pass --token or set SWITCHBOARD_ADMIN_TOKEN");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::string> roots = ReadWholeFile(ca_file);
    if (!roots.ok()) return absl::InvalidArgumentError(std::string(roots.status().message()));
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = *std::move(roots);
    credentials = grpc::SslCredentials(options);
  }
  AdminClient client;
  client.addr_ = addr.empty() ? kDefaultAddr : addr;
  client.token_ = token;
  client.timeout_ = absl::Seconds(flags.timeout_seconds);
  client.stub_ = v1::AdminService::NewStub(grpc::CreateChannel(client.addr_, credentials));
  return client;
}

void AdminClient::Prepare(grpc::ClientContext* context, bool streaming) const {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  if (!streaming) context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
}

int ReportError(const absl::Status& status) {
  std::cerr << "error: " << OneLine(std::string(status.message())) << "\n";
  return 1;
}

int ReportCommandError(const absl::Status& status) {
  // absl and gRPC share the codes and their names.
  return ReportError(
      grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message())),
      "");
}

int ReportError(const grpc::Status& status, const std::string& addr) {
  std::string reason = OneLine(status.error_message());
  if (reason.empty()) reason = "the router gave no reason";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !addr.empty() &&
      !absl::StartsWith(reason, kStoreUnavailablePrefix)) {
    reason = absl::StrCat("cannot reach the router at ", addr, ": ", reason);
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !addr.empty()) {
    reason = absl::StrCat("no answer from the router at ", addr, " in time (--timeout): ", reason);
  }
  std::cerr << "error: " << reason << " (" << CodeName(status.error_code()) << ")\n";
  return 1;
}

std::string ToJson(const google::protobuf::Message& message, bool compact) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = !compact;
  std::string out;
  // Serializing a well-formed message cannot fail (only Any with an unknown type could).
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string ToYaml(const google::protobuf::Message& message) {
  boost::json::value value = boost::json::parse(ToJson(message, /*compact=*/true));
  YAML::Emitter out;
  Emit(value, out);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  return text;
}

int PrintMessage(const google::protobuf::Message& message, Output output) {
  if (output == Output::kYaml) {
    std::cout << ToYaml(message);
  } else {
    std::cout << ToJson(message) << "\n";
  }
  return 0;
}

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 3, ' ');
    }
    out << line << "\n";
  }
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatAge(const google::protobuf::Duration& d) {
  int64_t seconds = d.seconds();
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrCat(seconds / 60, "m", seconds % 60, "s");
  return absl::StrCat(seconds / 3600, "h", seconds % 3600 / 60, "m", seconds % 60, "s");
}

absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag, const std::string& value,
                                         absl::Time now) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, value, &t, &error)) return t;
  absl::Duration back;
  if (absl::ParseDuration(value, &back) && back >= absl::ZeroDuration()) return now - back;
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": want an RFC 3339 time (2026-11-29T10:00:00Z) or a duration back from now (2h, "
            "90m), got \"",
      value, "\""));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  // A pipe is what the user asked for here (`-f -`, `-f <(yq ...)`), unlike in the router, where
  // a FIFO in a config field would block the start.
  struct stat st;
  const bool stdin_dash = path == "-";
  if (stdin_dash ||
      (::stat(path.c_str(), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))) {
    std::ifstream file;
    if (!stdin_dash) file.open(path, std::ios::binary);
    std::istream& in = stdin_dash ? std::cin : file;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad() || (!stdin_dash && !file.is_open())) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read \"", path, "\""));
    }
    return bytes.str();
  }
  return ReadRegularFile(path);
}

}  // namespace switchboard::ctl
