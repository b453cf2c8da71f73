// switchboardctl attachment get (admin_commands.h): bytes the router keeps out of line.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "tools/switchboardctl/admin_commands.h"

namespace switchboard::ctl {
namespace {

struct AttachmentState {
  AdminFlags* flags = nullptr;
  std::string event_id;
  std::string sha256;
  std::string out;  // -o FILE; "" = stdout
};

// Writes `bytes` to `path` through "<path>.partial" and a rename, so `path` only ever holds the
// whole attachment.
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string partial = path + ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", partial));
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", partial));
  }
  std::error_code error;
  std::filesystem::rename(partial, path, error);
  if (error) {
    std::filesystem::remove(partial, error);
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

int AttachmentGet(const AttachmentState& s) {
  const std::string expected = absl::AsciiStrToLower(s.sha256);
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::GetAttachmentRequest request;
  request.set_event_id(s.event_id);
  request.set_sha256(expected);
  grpc::ClientContext context;
  client->Prepare(&context);  // the --timeout deadline bounds the whole transfer
  std::unique_ptr<grpc::ClientReader<v1::AttachmentChunk>> reader =
      client->stub().GetAttachment(&context, request);
  std::string bytes;
  v1::AttachmentChunk chunk;
  while (reader->Read(&chunk)) bytes += chunk.data();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(status, client->addr());
  // The name is the content's hash: what arrived is checked before anything is written.
  absl::StatusOr<std::string> digest = crypto::Sha256(bytes);
  if (!digest.ok()) return ReportError(digest.status());
  if (crypto::HexEncode(*digest) != expected) {
    return ReportError(absl::DataLossError(absl::StrCat(
        "the router sent ", bytes.size(), " bytes whose SHA-256 is not ", expected)));
  }
  if (s.out.empty() || s.out == "-") {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    if (std::fflush(stdout) != 0) return ReportError(absl::UnavailableError("cannot write stdout"));
    return 0;
  }
  if (absl::Status written = WriteFileAtomically(s.out, bytes); !written.ok()) {
    return ReportError(written);
  }
  std::cerr << "wrote " << bytes.size() << " bytes (sha256 " << expected << ") to " << s.out
            << "\n";
  return 0;
}

}  // namespace

void AddAttachmentCommands(CLI::App& app, AdminFlags* flags, int* exit_status) {
  auto s = std::make_shared<AttachmentState>();
  s->flags = flags;
  CLI::App* attachment = app.add_subcommand(
      "attachment",
      "bytes the router keeps out of line: inbound attachments, raw, text and html bodies");
  attachment->require_subcommand(1);
  CLI::App* get = attachment->add_subcommand(
      "get",
      "fetch an event's stored attachment (inbound.attachments[].sha256), raw body "
      "(raw_sha256) or text / html body (inbound.text_sha256, inbound.html_sha256), checked "
      "against that SHA-256");
  AddConnectionFlags(get, flags);
  get->add_option("event_id", s->event_id, "the event's id")->required();
  get->add_option("sha256", s->sha256, "the attachment's sha256, the event's raw_sha256, text_sha256 or html_sha256")
      ->required();
  get->add_option("-o,--out", s->out, "write to this file (default stdout)");
  get->final_callback([s, exit_status] { *exit_status = AttachmentGet(*s); });
}

}  // namespace switchboard::ctl
