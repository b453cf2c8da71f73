// The connection and output conventions every admin subcommand of switchboardctl shares
// (rules_cmd.cc, queue_cmd.cc; the lifecycle commands `quarantine`, `purge`, `backup` reuse them):
//
//   AdminFlags flags;
//   AddAdminFlags(cmd, &flags);                      // --addr --token --ca-file -o --timeout
//   ...
//   absl::StatusOr<AdminClient> client = AdminClient::Connect(flags);
//   if (!client.ok()) return ReportError(client.status());
//   v1::ListAgentsResponse response;
//   grpc::ClientContext context;
//   client->Prepare(&context);                       // bearer token + deadline
//   grpc::Status status = client->stub().ListAgents(&context, {}, &response);
//   if (!status.ok()) return ReportError(status);
//   if (flags.output() != Output::kTable) return PrintMessage(response, flags.output());
//
// kubectl conventions: human tables by default, `-o json` (protobuf JSON, proto field names) or
// `-o yaml` (the same object as YAML); on failure exactly one line `error: <reason>` on stderr and
// exit status 1.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "switchboard/v1/admin.grpc.pb.h"

namespace switchboard::ctl {

enum class Output { kTable, kJson, kYaml };

// The flags as given; AdminClient::Connect applies the environment fallbacks.
struct AdminFlags {
  std::string addr;      // host:port of the router's gRPC port; "" -> env, then 127.0.0.1:50051
  std::string token;     // admin bearer token; "" -> env SWITCHBOARD_ADMIN_TOKEN
  std::string ca_file;   // PEM roots: connect with TLS (router grpc.tls); "" -> env, else plaintext
  std::string output_name;      // "", "json" or "yaml" (CLI11 checks -o)
  double timeout_seconds = 30;  // deadline of unary calls

  Output output() const {
    return output_name == "json" ? Output::kJson
           : output_name == "yaml" ? Output::kYaml
                                   : Output::kTable;
  }
};

// Adds --addr (env SWITCHBOARD_ADDR), --token (env SWITCHBOARD_ADMIN_TOKEN), --ca-file (env
// SWITCHBOARD_CA_FILE), -o/--output json|yaml and --timeout to `cmd`. `flags` must outlive parsing.
void AddAdminFlags(CLI::App* cmd, AdminFlags* flags);
// The same without -o/--output, for a command whose output is bytes (attachment get: -o FILE).
void AddConnectionFlags(CLI::App* cmd, AdminFlags* flags);
// The check of a --timeout flag: a finite number of seconds above 0 ("want a number of seconds
// above 0, got \"X\"").
CLI::Validator PositiveSeconds();

// A channel to the router's AdminService with the operator's token.
class AdminClient {
 public:
  // Flags first, then SWITCHBOARD_ADDR / SWITCHBOARD_ADMIN_TOKEN / SWITCHBOARD_CA_FILE.
  // kInvalidArgument: no token (neither --token nor SWITCHBOARD_ADMIN_TOKEN), or the CA file
  // unreadable. Does not dial: connection failures surface as UNAVAILABLE on the first call.
  static absl::StatusOr<AdminClient> Connect(const AdminFlags& flags);

  // Sets `authorization: Bearer <token>`; unary calls also get the --timeout deadline.
  void Prepare(grpc::ClientContext* context, bool streaming = false) const;

  v1::AdminService::Stub& stub() const { return *stub_; }
  const std::string& addr() const { return addr_; }

 private:
  AdminClient() = default;
  std::string addr_;
  std::string token_;
  absl::Duration timeout_;
  std::shared_ptr<v1::AdminService::Stub> stub_;
};

// Prints `error: <reason>` (one line: newlines folded to spaces) to stderr; returns 1.
int ReportError(const absl::Status& status);
// The same for an rpc's status: `error: <message> (CODE)`; UNAVAILABLE and DEADLINE_EXCEEDED
// name the address.
int ReportError(const grpc::Status& status, const std::string& addr = "");
// An admin command's own failure (a file it cannot read, ids that matched nothing) in the form of
// the router's: `error: <message> (CODE)`; returns 1.
int ReportCommandError(const absl::Status& status);

// `message` as protobuf JSON (proto field names, defaults omitted; pretty unless `compact`).
std::string ToJson(const google::protobuf::Message& message, bool compact = false);
// `message` as a YAML block document (the JSON object above, emitted by yaml-cpp; strings that
// would read back as another type are quoted). Ends with '\n'.
std::string ToYaml(const google::protobuf::Message& message);
// Prints `message` in `output` (kJson or kYaml) to stdout; returns 0.
int PrintMessage(const google::protobuf::Message& message, Output output);

// A plain-text table: columns padded to their widest cell, separated by three spaces, header
// row in upper case as given. Cells are printed as they are (callers keep them on one line).
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "2026-11-29T21:10:20Z" (UTC, whole seconds); "-" for an unset timestamp.
std::string FormatTime(const google::protobuf::Timestamp& t);
// Whole seconds and up, e.g. "0s", "42s", "3m12s", "2h0m5s".
std::string FormatAge(const google::protobuf::Duration& d);

// A point in time from the command line: RFC 3339 ("2026-11-29T10:00:00Z") or a duration back
// from `now` ("2h", "90m", "1h30m"). kInvalidArgument naming `flag` otherwise.
absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag, const std::string& value,
                                         absl::Time now);

// Reads a whole file: a regular one (ReadRegularFile: kInvalidArgument naming the path and the
// reason; a directory is refused unopened), a pipe or terminal, or standard input for "-".
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace switchboard::ctl
