// switchboardctl quarantine list|replay|purge, purge --recipient, backup (admin_commands.h).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/switchboardctl/admin_commands.h"

namespace switchboard::ctl {
namespace {

struct LifecycleState {
  AdminFlags* flags = nullptr;
  std::string source;            // quarantine --source
  std::vector<std::string> ids;  // quarantine replay/purge [ID...]
  int limit = 0;                 // quarantine list --limit
  std::string recipient;         // purge --recipient
  std::string path;              // backup PATH
};

std::string Plural(int64_t n, const std::string& word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

int QuarantineList(const LifecycleState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::ListQuarantineRequest request;
  request.set_source(s.source);
  request.set_limit(s.limit);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ListQuarantineResponse response;
  grpc::Status status = client->stub().ListQuarantine(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  if (response.entries().empty()) {
    std::cout << "no quarantined webhooks" << (s.source.empty() ? "" : " of " + s.source) << "\n";
    return 0;
  }
  Table table({"ID", "SOURCE", "RECEIVED-AT", "BYTES", "CODE-VERSION", "REASON"});
  for (const v1::QuarantineEntry& entry : response.entries()) {
    std::string reason = entry.reason();
    for (char& c : reason) {
      if (c == '\n' || c == '\r') c = ' ';  // one row per entry
    }
    table.AddRow({entry.id(), entry.source(), FormatTime(entry.received_at()),
                  absl::StrCat(entry.body_size()), entry.code_version(), reason});
  }
  table.Print(std::cout);
  return 0;
}

int QuarantineReplay(const LifecycleState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::ReplayQuarantineRequest request;
  request.set_source(s.source);
  for (const std::string& id : s.ids) request.add_ids(id);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ReplayQuarantineResponse response;
  grpc::Status status = client->stub().ReplayQuarantine(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << "decoded and committed " << Plural(response.decoded(), "webhook") << ", "
            << response.still_failing() << " still failing (kept)\n";
  return 0;
}

int QuarantinePurge(const LifecycleState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::PurgeQuarantineRequest request;
  request.set_source(s.source);
  for (const std::string& id : s.ids) request.add_ids(id);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::CountResponse response;
  grpc::Status status = client->stub().PurgeQuarantine(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << "purged " << Plural(response.count(), "quarantined webhook") << " of " << s.source
            << "\n";
  return 0;
}

int PurgeRecipient(const LifecycleState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::PurgeRecipientRequest request;
  request.set_recipient(s.recipient);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::CountResponse response;
  grpc::Status status = client->stub().PurgeRecipient(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << "erased " << Plural(response.count(), "entry") << " of " << s.recipient
            << " (archive, queues, dead letters, quarantine)\n";
  return 0;
}

int Backup(const LifecycleState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::BackupRequest request;
  request.set_path(s.path);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::BackupResponse response;
  grpc::Status status = client->stub().Backup(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << "backup written to " << response.path() << " on the router's host ("
            << response.bytes() << " bytes, " << FormatAge(response.took()) << ")\n";
  return 0;
}

}  // namespace

void AddLifecycleCommands(CLI::App& app, AdminFlags* flags, int* exit_status) {
  auto s = std::make_shared<LifecycleState>();
  s->flags = flags;

  CLI::App* quarantine = app.add_subcommand(
      "quarantine", "authentic webhooks that could not be decoded, kept per source");
  quarantine->require_subcommand(1);
  CLI::App* list = quarantine->add_subcommand("list", "list quarantined webhooks (no bodies)");
  AddAdminFlags(list, flags);
  list->add_option("--source", s->source, "only this source (default all)");
  list->add_option("--limit", s->limit, "at most this many (default 100)");
  list->final_callback([s, exit_status] { *exit_status = QuarantineList(*s); });
  CLI::App* replay = quarantine->add_subcommand(
      "replay", "decode again with the current provider code and commit what decodes now");
  AddAdminFlags(replay, flags);
  replay->add_option("--source", s->source, "only this source (default all)");
  replay->add_option("ids", s->ids, "only these quarantine ids (default all)");
  replay->final_callback([s, exit_status] { *exit_status = QuarantineReplay(*s); });
  CLI::App* purge_quarantine = quarantine->add_subcommand("purge", "delete quarantined webhooks");
  AddAdminFlags(purge_quarantine, flags);
  purge_quarantine->add_option("--source", s->source, "the source")->required();
  purge_quarantine->add_option("ids", s->ids, "only these quarantine ids (default all)");
  purge_quarantine->final_callback([s, exit_status] { *exit_status = QuarantinePurge(*s); });

  CLI::App* purge = app.add_subcommand(
      "purge", "erase one person's events: archive, queue entries, dead letters, quarantine");
  AddAdminFlags(purge, flags);
  purge->add_option("--recipient", s->recipient, "the exact email address")->required();
  purge->final_callback([s, exit_status] { *exit_status = PurgeRecipient(*s); });

  CLI::App* backup = app.add_subcommand(
      "backup", "online copy of the embedded store to a file on the router's host");
  AddAdminFlags(backup, flags);
  backup->add_option("path", s->path, "absolute path on the router's host")->required();
  backup->final_callback([s, exit_status] { *exit_status = Backup(*s); });
}

}  // namespace switchboard::ctl
