// switchboardctl: the operator and developer CLI. Thin: flags -> the ctl library.
#include <grpc/support/log.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "router/common/build_version.h"
#include "router/common/crypto.h"
#include "router/common/event_type_names.h"
#include "router/config/config_loader.h"
#include "tools/switchboardctl/admin_commands.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/signature_provider_samples.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace {

using namespace switchboard;

// A failure: one line `error: <reason>` on stderr, exit status 1 (README "Operating Switchboard").
int Fail(const std::string& message) {
  return ctl::ReportError(absl::InvalidArgumentError(message));
}

// A usage error (unknown flag or subcommand, missing or malformed argument): one line
// `error: <reason>` naming `--help`, exit status 2, so scripts can tell a wrong invocation from
// a failed operation.
int UsageError(const std::string& message) {
  ctl::ReportError(absl::InvalidArgumentError(
      absl::StrCat(message, " (switchboardctl --help, or SUBCOMMAND --help)")));
  return 2;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// gRPC's own log lines (e.g. "Handshake failed ... certificate verify failed" from its TLS layer)
// would break the one-line error promise; the rpc's status carries the same reason.
void DropGrpcLog(gpr_log_func_args* /*args*/) {}

std::string RandomToken(int bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return raw;
}

// The base URL of the router's ingress: --url, SWITCHBOARD_WEBHOOK_URL, else http.listen's port
// on 127.0.0.1 (https when http.tls is set).
std::string BaseUrl(const std::string& flag, const config::Config& cfg) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("SWITCHBOARD_WEBHOOK_URL"); env && *env) return env;
  std::string listen = cfg.http.listen;
  std::string port = listen.substr(listen.rfind(':') + 1);
  return absl::StrCat(cfg.http.tls ? "https" : "http", "://127.0.0.1:", port);
}

struct SendFlags {
  std::string config = "switchboard.yaml";
  std::string source;
  std::string event;
  std::string to = "recipient@example.com";
  std::string file;
  std::string id;
  std::string url;
  std::string ca_file;
  std::string private_key;
  double timeout_seconds = 10;
};

int Send(const SendFlags& f) {
  auto cfg = config::LoadConfigFile(f.config);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  const config::SourceConfig* source = cfg->FindSource(f.source);
  if (source == nullptr) return Fail(absl::StrCat("no source named \"", f.source, "\" in ", f.config));

  absl::Time now = absl::Now();
  std::string id = f.id.empty() ? absl::StrCat("msg_", crypto::HexEncode(RandomToken(12))) : f.id;
  std::string body;
  if (!f.file.empty()) {
    if (!ReadFile(f.file, &body)) return Fail(absl::StrCat("cannot read ", f.file));
  } else {
    auto type = ParseEventTypeName(f.event);
    if (!type) return Fail(absl::StrCat("unknown event type \"", f.event, "\" (e.g. bounced)"));
    auto payload = ctl::IsSignatureProvider(source->provider)
                       ? ctl::SignatureProviderSample(*source, *type, f.to, now, id)
                       : ctl::SamplePayload(source->provider, source->vendor, *type, f.to, now, id);
    if (!payload.ok()) return Fail(std::string(payload.status().message()));
    body = *payload;
  }
  ctl::SigningInput input{body, now, id, ""};
  if (!f.private_key.empty() && !ReadFile(f.private_key, &input.private_key_pem)) {
    return Fail(absl::StrCat("cannot read ", f.private_key));
  }
  if (source->provider == "ses") {  // SNS signs fields inside the body
    auto message = ctl::SnsNotification(*source, input.body, input);
    if (!message.ok()) return Fail(std::string(message.status().message()));
    body = input.body = *message;
  }
  if (source->provider == "mailgun") {  // signs timestamp + token, inside the body
    auto signed_body = ctl::MailgunSignedBody(*source, input.body, now,
                                              crypto::HexEncode(RandomToken(25)));
    if (!signed_body.ok()) return Fail(std::string(signed_body.status().message()));
    body = input.body = *signed_body;
  }
  auto headers = ctl::SignWebhook(*source, input);
  if (!headers.ok()) return Fail(std::string(headers.status().message()));
  std::string url = absl::StrCat(BaseUrl(f.url, *cfg), "/v1/webhooks/", source->name);
  std::string ca_file = f.ca_file;
  if (const char* env = std::getenv("SWITCHBOARD_CA_FILE"); ca_file.empty() && env != nullptr) {
    ca_file = env;
  }
  auto result = ctl::HttpPost(url, *headers, body, ca_file, absl::Seconds(f.timeout_seconds));
  if (!result.ok()) return Fail(std::string(result.status().message()));
  std::cout << "HTTP " << result->status << " " << result->body << "\n";
  if (result->status / 100 == 2) return 0;
  // A failed operation, exit 1 like every other (2 is a usage error).
  return ctl::ReportError(
      absl::FailedPreconditionError(absl::StrCat("the router answered HTTP ", result->status)));
}

int DevKeys(const std::string& out) {
  auto pair = crypto::GenerateP256KeyPair();
  if (!pair.ok()) return Fail(std::string(pair.status().message()));
  std::string secret = absl::StrCat("whsec_", crypto::Base64Encode(RandomToken(32)));
  if (out.empty()) {
    std::cout << "# SendGrid (router: public_key; switchboardctl send: --private-key)\n"
              << "public_key: \"" << pair->public_key_der_base64 << "\"\n"
              << pair->private_key_pem << "# Standard Webhooks secret\nsecret: \"" << secret
              << "\"\n";
    return 0;
  }
  std::filesystem::create_directories(out);
  std::ofstream(out + "/sendgrid-private.pem") << pair->private_key_pem;
  std::filesystem::permissions(out + "/sendgrid-private.pem",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(out + "/sendgrid-public.txt") << pair->public_key_der_base64 << "\n";
  std::ofstream(out + "/standard-webhooks.secret") << secret << "\n";
  if (absl::Status rsa = ctl::WriteRsaDevKeys(out); !rsa.ok()) {
    return Fail(std::string(rsa.message()));
  }
  std::cout << out << "/sendgrid-private.pem\n"
            << out << "/sendgrid-public.txt\n"
            << out << "/standard-webhooks.secret\n"
            << out << "/postal-private.pem, postal-public.txt\n"
            << out << "/sns-private.pem, sns-cert.pem\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(DropGrpcLog);
  CLI::App app{"switchboardctl: operate and develop against a Switchboard router"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(switchboard::BuildVersion()),
                       "print the build's version and exit");

  SendFlags send;
  auto* send_cmd = app.add_subcommand(
      "send", "POST a correctly signed sample webhook of a source's provider to a running router");
  if (const char* env = std::getenv("SWITCHBOARD_CONFIG"); env && *env) send.config = env;
  send_cmd->add_option("--config", send.config, "router config file (env SWITCHBOARD_CONFIG)");
  send_cmd->add_option("--source", send.source, "source name from the config")->required();
  auto* event = send_cmd->add_option("--event", send.event, "event type, e.g. bounced, delivered");
  auto* file = send_cmd->add_option(
      "--file", send.file,
      "send this body instead of a sample (mailgun: its signature object or fields are replaced)");
  event->excludes(file);
  send_cmd->add_option("--to", send.to, "recipient of the sample event");
  send_cmd->add_option("--id", send.id, "message / event id (default: random)");
  send_cmd->add_option("--url", send.url,
                       "router base URL, e.g. http://127.0.0.1:8080 or https://webhooks.example.com "
                       "(env SWITCHBOARD_WEBHOOK_URL)");
  send_cmd->add_option("--ca-file", send.ca_file,
                       "https: PEM CA certificates the router's certificate must chain to (env "
                       "SWITCHBOARD_CA_FILE; default: the system's trusted CAs)");
  send_cmd->add_option("--private-key", send.private_key,
                       "PEM private key for providers the router only holds a public key or "
                       "certificate of (sendgrid, postal, ses)");
  send_cmd->add_option("--timeout", send.timeout_seconds,
                       "seconds the whole exchange may take: name lookup, connect, TLS handshake, "
                       "request and answer (default 10)")
      ->check(ctl::PositiveSeconds());

  std::string keys_out;
  auto* keys_cmd = app.add_subcommand("dev-keys", "make the keys a local setup needs");
  keys_cmd->add_option("--out", keys_out, "write key files into this folder");

  // Operator subcommands (rules, agents, dlq, replay, tail): they run from their callbacks.
  ctl::AdminFlags admin_flags;
  int admin_exit = -1;
  ctl::AddRulesCommands(app, &admin_flags, &admin_exit);
  ctl::AddQueueCommands(app, &admin_flags, &admin_exit);
  ctl::AddLifecycleCommands(app, &admin_flags, &admin_exit);
  ctl::AddAttachmentCommands(app, &admin_flags, &admin_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --help-all print the help and exit 0, as CLI11 does; every other parse error is
    // one line (CLI11's own message is two: the reason, then "Run with --help ...").
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    // CLI11 checks requirements before leftovers: `switchboardctl frobnicate` would read "A
    // subcommand is required".
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      return UsageError(absl::StrCat("unknown subcommand \"", app.remaining().front(), "\""));
    }
    return UsageError(e.what());
  }
  if (admin_exit >= 0) return admin_exit;
  if (send_cmd->parsed()) {
    if (send.event.empty() && send.file.empty()) {
      return UsageError("send needs --event TYPE or --file PATH");
    }
    return Send(send);
  }
  if (keys_cmd->parsed()) return DevKeys(keys_out);
  return 1;
}
