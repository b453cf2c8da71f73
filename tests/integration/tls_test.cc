// TLS on the real router (config `grpc.tls` and `http.tls`, README "Configuration"): a throwaway CA
// and certificates made with the `openssl` command (Debian's openssl package, a dependency of
// ca-certificates) in the test's folder.
// gRPC: an agent that trusts the CA subscribes; a plaintext client fails cleanly and the server
// keeps serving; with client_ca_file, an agent without a client certificate is refused and one
// with a certificate the CA signed gets in; switchboardctl's --ca-file works with the right CA and
// fails in one line with another.
// HTTPS ingress: a signed webhook is accepted over TLS (HttpPost and `switchboardctl send`); the
// ingress limits hold on TLS connections; plain HTTP on the port gets a 400 naming HTTPS; a client
// that never sends its ClientHello is cut at handshake_timeout and frees its slot; garbage TLS
// records do not hurt the server; failed handshakes are counted by reason in /metrics and logged
// at most once a second; SIGHUP serves a replaced certificate to new connections.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/raw_connection.h"
#include "tests/integration/router_process.h"
#include "tests/integration/signed_webhook.h"
#include "tools/switchboardctl/http_client.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace switchboard::testing {
namespace {

constexpr const char* kToken = kAuditToken;
constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr const char* kSecret = kResendSecret;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ca.pem/ca.key, server.pem/server.key (CN and SAN 127.0.0.1, localhost), client.pem/client.key;
// a second CA, other-ca.pem, and other-server.pem/other-server.key (same names) that it signed.
bool MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "cd '", dir, "' && exec >openssl.log 2>&1 && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key "
      "-out ca.pem && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr "
      "&& printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile san.ext -out server.pem && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=audit -keyout client.key -out client.csr && ",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-out client.pem && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout other-ca.key "
      "-out other-ca.pem && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout other-server.key "
      "-out other-server.csr && ",
      "openssl x509 -req -in other-server.csr -CA other-ca.pem -CAkey other-ca.key "
      "-CAcreateserial -days 1 -extfile san.ext -out other-server.pem");
  return std::system(script.c_str()) == 0;
}

std::string Config(bool client_certs) {
  return absl::StrCat(R"(
http:  { listen: "127.0.0.1:0" }
grpc:
  listen: "127.0.0.1:0"
  tls: { cert_file: server.pem, key_file: server.key)",
                      client_certs ? ", client_ca_file: ca.pem" : "", R"( }
store: { kind: embedded, path: "./data/switchboard.db" }
agents:
  - { name: audit, tokens: [")",
                      kToken, R"("] }
admin:
  tokens: [ { name: alice, token: ")",
                      kAdminToken, R"(" } ]
)");
}

// Opens a Subscribe stream, sends Hello and returns the status: OK once a Welcome arrives.
grpc::Status Subscribe(const std::string& target,
                       const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  auto channel = grpc::CreateChannel(target, credentials);
  auto stub = v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->Subscribe(&context);
  v1::SubscribeRequest hello;
  hello.mutable_hello()->set_agent("audit");
  v1::SubscribeResponse response;
  if (stream->Write(hello) && stream->Read(&response) && response.has_welcome()) {
    context.TryCancel();
    stream->Finish();
    return grpc::Status::OK;
  }
  return stream->Finish();
}

std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& dir, bool client_cert) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = Slurp(dir + "/ca.pem");
  if (client_cert) {
    options.pem_private_key = Slurp(dir + "/client.key");
    options.pem_cert_chain = Slurp(dir + "/client.pem");
  }
  return grpc::SslCredentials(options);
}

TEST(TlsTest, AgentsSubscribeOverTlsAndPlaintextFailsCleanly) {
  const std::string dir = MakeTempDir("tls");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  auto router = RouterProcess::Start(dir, Config(/*client_certs=*/false));
  ASSERT_TRUE(router.ok()) << router.status();
  const std::string target = absl::StrCat("localhost:", (*router)->grpc_port());

  EXPECT_TRUE(Subscribe(target, Tls(dir, false)).ok());
  EXPECT_EQ(Subscribe(target, grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Subscribe(target, Tls(dir, false)).ok()) << "still serving after a plaintext client";
}

// gRPC alone would report only "cannot bind", with the reason in its own non-JSON log lines.
TEST(TlsTest, AKeyThatIsNotTheCertificatesEndsTheStartWithTheReason) {
  const std::string dir = MakeTempDir("tls-mismatch");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  std::filesystem::copy_file(dir + "/other-server.key", dir + "/server.key",
                             std::filesystem::copy_options::overwrite_existing);
  auto router = RouterProcess::Start(dir, Config(/*client_certs=*/false));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find(
                "grpc.tls: cert_file \\\"" + dir + "/server.pem\\\", key_file \\\"" + dir +
                "/server.key\\\": the private key does not match the certificate"),
            std::string::npos)
      << router.status();
  // Checked before the store opens: nothing was created or migrated.
  EXPECT_FALSE(std::filesystem::exists(dir + "/data")) << router.status();

  // --check-config, which opens no port, finds it too.
  const std::string command = absl::StrCat("'", BinaryPath("router/switchboard"),
                                           "' --check-config '", dir, "/switchboard.yaml' 2>&1");
  FILE* check = popen(command.c_str(), "r");
  ASSERT_NE(check, nullptr);
  std::string output;
  char chunk[512];
  while (size_t n = fread(chunk, 1, sizeof chunk, check)) output.append(chunk, n);
  const int status = pclose(check);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << output;
  EXPECT_NE(output.find("grpc.tls: cert_file \"" + dir + "/server.pem\", key_file \"" + dir +
                        "/server.key\": the private key does not match the certificate"),
            std::string::npos)
      << output;
}

// Opening a FIFO with no writer blocks: the config load refuses it instead of hanging the start.
TEST(TlsTest, AFifoAsTheCertificateIsRefusedNotWaitedOn) {
  const std::string dir = MakeTempDir("tls-fifo");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  std::filesystem::remove(dir + "/server.pem");
  ASSERT_EQ(mkfifo((dir + "/server.pem").c_str(), 0600), 0);
  auto router = RouterProcess::Start(dir, Config(/*client_certs=*/false));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find("grpc.tls.cert_file"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find("server.pem\\\" is not a regular file"),
            std::string::npos)
      << router.status();
}

TEST(TlsTest, ClientCertificatesAreRequiredWhenAClientCaIsSet) {
  const std::string dir = MakeTempDir("mtls");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  auto router = RouterProcess::Start(dir, Config(/*client_certs=*/true));
  ASSERT_TRUE(router.ok()) << router.status();
  const std::string target = absl::StrCat("localhost:", (*router)->grpc_port());

  EXPECT_EQ(Subscribe(target, Tls(dir, /*client_cert=*/false)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Subscribe(target, Tls(dir, /*client_cert=*/true)).ok());
}

TEST(TlsTest, SwitchboardctlCaFileReachesTheAdminApiOnlyWithTheRightCa) {
  const std::string dir = MakeTempDir("tls_ctl");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  auto router = RouterProcess::Start(dir, Config(/*client_certs=*/false));
  ASSERT_TRUE(router.ok()) << router.status();
  const std::string addr = absl::StrCat("localhost:", (*router)->grpc_port());

  const CtlResult ok = RunCtl(dir, {"agents", "--addr", addr, "--token", kAdminToken, "--ca-file",
                                    dir + "/ca.pem", "-o", "json"});
  EXPECT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_TRUE(absl::StrContains(ok.out, "\"audit\"")) << Describe(ok);
  // The same through the environment.
  const CtlResult env = RunCtl(dir, {"agents", "-o", "json"},
                               {{"SWITCHBOARD_ADDR", addr},
                                {"SWITCHBOARD_ADMIN_TOKEN", kAdminToken},
                                {"SWITCHBOARD_CA_FILE", dir + "/ca.pem"}});
  EXPECT_EQ(env.exit_code, 0) << Describe(env);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--ca-file", dir + "/other-ca.pem"},  // a CA that did not sign
        std::vector<std::string>{}}) {                                // plaintext to a TLS port
    std::vector<std::string> argv = {"agents", "--addr", addr, "--token", kAdminToken,
                                     "--timeout", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CtlResult refused = RunCtl(dir, argv);
    EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
    EXPECT_TRUE(absl::StartsWith(refused.err, "error: ")) << Describe(refused);
    ASSERT_FALSE(refused.err.empty());
    EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << "one line: " << Describe(refused);
    EXPECT_TRUE(absl::StrContains(refused.err, "(UNAVAILABLE)")) << Describe(refused);
  }
  const CtlResult missing = RunCtl(
      dir, {"agents", "--addr", addr, "--token", kAdminToken, "--ca-file", dir + "/nope.pem"});
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_TRUE(absl::StrContains(missing.err, "nope.pem")) << Describe(missing);
  EXPECT_EQ(missing.err.find('\n'), missing.err.size() - 1) << Describe(missing);
}

// Writes the key at `from` to `to` encrypted under a passphrase (PKCS#8, AES-256), with the
// openssl command.
bool EncryptKey(const std::string& from, const std::string& to) {
  const std::string command = absl::StrCat("openssl pkey -in '", from,
                                           "' -aes256 -passout pass:secret -out '", to,
                                           "' 2>/dev/null");
  return std::system(command.c_str()) == 0;
}

// HTTPS ingress: the server certificate is https.pem/https.key (a copy of server.pem/server.key,
// so that the reload test can replace it); `http_extra` adds fields to the http mapping.
std::string HttpsConfig(const std::string& http_extra) {
  return ResendAuditConfig(
      absl::StrCat("tls: { cert_file: https.pem, key_file: https.key }",
                   http_extra.empty() ? "" : ", ", http_extra));
}

class HttpsTest : public ::testing::Test {
 protected:
  // Starts a router on HttpsConfig(http_extra) in a fresh folder with certificates.
  void StartRouter(const std::string& http_extra) {
    dir_ = MakeTempDir("https");
    ASSERT_TRUE(MakeCertificates(dir_)) << Slurp(dir_ + "/openssl.log");
    UseCertificate("server");
    auto router = RouterProcess::Start(dir_, HttpsConfig(http_extra));
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
  }

  // Copies <name>.pem/<name>.key over https.pem/https.key.
  void UseCertificate(const std::string& name) {
    namespace fs = std::filesystem;
    for (const char* ext : {".pem", ".key"}) {
      fs::copy_file(dir_ + "/" + name + ext, dir_ + "/https" + ext,
                    fs::copy_options::overwrite_existing);
    }
  }

  std::string Url() const {
    return absl::StrCat("https://localhost:", router_->http_port(), "/v1/webhooks/resend");
  }

  // POSTs a signed webhook over HTTPS trusting `ca` (a file in the test's folder); the HTTP
  // status, or -1 with the error in `error`.
  int Post(const std::string& id, const std::string& ca = "ca.pem", std::string* error = nullptr) {
    const SignedWebhook w = SignResendWebhook(kSecret, id);
    auto result = ctl::HttpPost(Url(), w.headers, w.body, dir_ + "/" + ca);
    if (!result.ok()) {
      if (error != nullptr) *error = std::string(result.status().message());
      return -1;
    }
    return result->status;
  }

  // A TLS connection that completed its handshake (trusting ca.pem).
  std::unique_ptr<RawConnection> Tls() {
    auto connection = std::make_unique<RawConnection>(router_->http_port());
    EXPECT_TRUE(connection->StartTls(dir_ + "/ca.pem"));
    return connection;
  }

  std::string dir_;
  std::unique_ptr<RouterProcess> router_;
};

TEST_F(HttpsTest, ASignedWebhookIsAcceptedOverTlsAndOnlyWithTheRightCa) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(""));
  EXPECT_EQ(Post("msg_https"), 200);
  EXPECT_EQ(Post("msg_https"), 200) << "a retry is a duplicate, answered 200";

  std::string error;
  EXPECT_EQ(Post("msg_other_ca", "other-ca.pem", &error), -1);
  EXPECT_TRUE(absl::StrContains(error, "certificate verify failed")) << error;

  // The plain-HTTP client library cannot talk to the port either: it gets the plain 400.
  const SignedWebhook w = SignResendWebhook(kSecret, "msg_plain");
  auto plain = ctl::HttpPost(absl::StrCat("http://127.0.0.1:", router_->http_port(),
                                          "/v1/webhooks/resend"),
                             w.headers, w.body);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->status, 400);
  EXPECT_EQ(plain->body, "this port speaks HTTPS\n");
  EXPECT_EQ(Post("msg_after_plain"), 200) << "still serving TLS after a plain client";
}

TEST_F(HttpsTest, SwitchboardctlSendsOverHttpsWithCaFileOrEnvironment) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(""));
  const std::string base = absl::StrCat("https://localhost:", router_->http_port());
  const std::string config = dir_ + "/switchboard.yaml";
  const CtlResult flag = RunCtl(dir_, {"send", "--config", config, "--source", "resend", "--event",
                                       "delivered", "--url", base, "--ca-file", dir_ + "/ca.pem"});
  EXPECT_EQ(flag.exit_code, 0) << Describe(flag);
  EXPECT_TRUE(absl::StartsWith(flag.out, "HTTP 200")) << Describe(flag);

  const CtlResult env =
      RunCtl(dir_, {"send", "--config", config, "--source", "resend", "--event", "bounced"},
             {{"SWITCHBOARD_WEBHOOK_URL", base}, {"SWITCHBOARD_CA_FILE", dir_ + "/ca.pem"}});
  EXPECT_EQ(env.exit_code, 0) << Describe(env);
  EXPECT_TRUE(absl::StartsWith(env.out, "HTTP 200")) << Describe(env);

  const CtlResult wrong_ca = RunCtl(dir_, {"send", "--config", config, "--source", "resend",
                                           "--event", "delivered", "--url", base, "--ca-file",
                                           dir_ + "/other-ca.pem"});
  EXPECT_EQ(wrong_ca.exit_code, 1) << Describe(wrong_ca);
  EXPECT_TRUE(absl::StartsWith(wrong_ca.err, "error: ")) << Describe(wrong_ca);
  EXPECT_TRUE(absl::StrContains(wrong_ca.err, "certificate verify failed")) << Describe(wrong_ca);
  EXPECT_EQ(wrong_ca.err.find('\n'), wrong_ca.err.size() - 1) << Describe(wrong_ca);

  // Signed with a secret the router does not hold: the router's 401 is printed, and it is a
  // failed operation (exit 1, one `error:` line), not a usage error (exit 2).
  const std::string wrong_secret = dir_ + "/wrong-secret.yaml";
  {
    std::ofstream out(wrong_secret);
    out << absl::StrReplaceAll(Slurp(config), {{kResendSecret,
                                                "whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"}});
  }
  const CtlResult refused = RunCtl(dir_, {"send", "--config", wrong_secret, "--source", "resend",
                                          "--event", "delivered", "--url", base, "--ca-file",
                                          dir_ + "/ca.pem"});
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_TRUE(absl::StartsWith(refused.out, "HTTP 401")) << Describe(refused);
  EXPECT_EQ(refused.err, "error: the router answered HTTP 401\n") << Describe(refused);
}

TEST_F(HttpsTest, TheIngressLimitsHoldOnTlsConnections) {
  ASSERT_NO_FATAL_FAILURE(
      StartRouter("max_header_count: 12, max_body: 4KiB, idle_timeout: 1s"));
  const SignedWebhook w = SignResendWebhook(kSecret, "msg_limits");

  // 431: 13 fields (Host, the three webhook-* headers, Content-Length and 8 more).
  std::string crowded_head = RequestHead(w, w.body.size());
  crowded_head.insert(crowded_head.find("\r\n") + 2,
                      "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n");
  auto crowded = Tls();
  ASSERT_TRUE(crowded->Write(crowded_head));
  EXPECT_TRUE(crowded->ReadAll().starts_with("HTTP/1.1 431")) << "http.max_header_count";

  // 413 from the header alone: no body byte is sent.
  auto big = Tls();
  ASSERT_TRUE(big->Write(RequestHead(w, 4097)));
  EXPECT_TRUE(big->ReadAll().starts_with("HTTP/1.1 413")) << "http.max_body";

  // Pipelining: two requests in one write get two answers, in order, on the one connection; the
  // second asks to close.
  std::string second_head = RequestHead(w, w.body.size());
  second_head.insert(second_head.find("\r\n") + 2, "Connection: close\r\n");
  auto pipelined = Tls();
  ASSERT_TRUE(pipelined->Write(RequestHead(w, w.body.size()) + w.body + second_head + w.body));
  const std::string answers = pipelined->ReadAll();
  const size_t first = answers.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << answers;
  EXPECT_NE(answers.find("HTTP/1.1 200", first + 1), std::string::npos) << answers;

  // idle_timeout: a TLS connection that sends no request is closed, unanswered.
  auto idle = Tls();
  const auto idle_start = std::chrono::steady_clock::now();
  EXPECT_EQ(idle->ReadAll(), "");
  const auto idle_for = std::chrono::steady_clock::now() - idle_start;
  EXPECT_GE(idle_for, std::chrono::milliseconds(900));
  EXPECT_LT(idle_for, std::chrono::seconds(8));
}

TEST_F(HttpsTest, AStalledHandshakeIsCutAtTheTimeoutAndFreesItsSlot) {
  ASSERT_NO_FATAL_FAILURE(StartRouter("handshake_timeout: 1s, max_connections: 2"));
  // Opens TCP and never sends a ClientHello.
  RawConnection stalled(router_->http_port());
  ASSERT_TRUE(stalled.connected());
  const auto start = std::chrono::steady_clock::now();
  // The other slot serves a client meanwhile.
  EXPECT_EQ(Post("msg_while_stalled"), 200);
  EXPECT_EQ(stalled.ReadAll(), "") << "closed unanswered";
  const auto held = std::chrono::steady_clock::now() - start;
  EXPECT_GE(held, std::chrono::milliseconds(900));
  EXPECT_LT(held, std::chrono::seconds(8)) << "cut at handshake_timeout, not at a read timeout";

  // Its slot is free again: with a second staller holding one of the two slots, a client is
  // still served (it would be refused if the first staller still counted).
  RawConnection second(router_->http_port());
  ASSERT_TRUE(second.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // accepted before the next one
  EXPECT_EQ(Post("msg_after_stall"), 200);
  EXPECT_NE(router_->log().find("https handshake failed"), std::string::npos) << router_->log();
}

TEST_F(HttpsTest, GarbageTlsRecordsDoNotHurtTheServer) {
  ASSERT_NO_FATAL_FAILURE(StartRouter("handshake_timeout: 2s"));
  const std::vector<std::string> garbage = {
      // A handshake record header (type 22, TLS 1.0) whose body is not a ClientHello.
      std::string("\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", 10),
      // A record announcing 16 KiB + 1 (over the TLS maximum), then a little junk.
      std::string("\x16\x03\x03\x40\x01", 5) + std::string(64, '\x7f'),
      // A ClientHello header that claims more than it carries (cut at the handshake timeout).
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
      // An alert record, then application data before any handshake.
      std::string("\x15\x03\x03\x00\x02\x02\x28\x17\x03\x03\x00\x01\x00", 13),
  };
  for (const std::string& bytes : garbage) {
    RawConnection c(router_->http_port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.WriteRaw(bytes));
    // The server closes the connection (perhaps after a TLS alert); it never answers in HTTP.
    EXPECT_FALSE(absl::StrContains(c.ReadAll(), "HTTP/1.1")) << "bytes " << bytes.size();
  }
  // After a good handshake, an application-data record that does not decrypt.
  auto forged = Tls();
  ASSERT_TRUE(forged->WriteRaw(std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'x')));
  EXPECT_FALSE(absl::StrContains(forged->ReadAll(), "HTTP/1.1"));

  EXPECT_EQ(Post("msg_after_garbage"), 200) << "the router still serves";
  EXPECT_NE(router_->log().find("https handshake failed"), std::string::npos) << router_->log();
}

// A scrape of /metrics over HTTPS (trusting ca.pem): the whole answer.
std::string ScrapeMetrics(int port, const std::string& ca_file) {
  RawConnection c(port);
  if (!c.StartTls(ca_file)) return "";
  c.Write("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  return c.ReadAll();
}

// The router's log lines about refused handshakes (failed ones and plain HTTP on the port), and
// the sum of the "suppressed" counts they carry.
struct HandshakeLines {
  int lines = 0;
  uint64_t suppressed = 0;
};
HandshakeLines CountHandshakeLines(const std::string& log) {
  HandshakeLines counted;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (!absl::StrContains(line, "https handshake failed") &&
        !absl::StrContains(line, "plain HTTP on the HTTPS port refused")) {
      continue;
    }
    ++counted.lines;
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(line, ec);
    if (ec || !parsed.is_object()) continue;
    if (const auto* n = parsed.as_object().if_contains("suppressed"); n && n->is_number()) {
      counted.suppressed += n->to_number<uint64_t>();
    }
  }
  return counted;
}

TEST_F(HttpsTest, FailedHandshakesAreCountedByReasonAndTheirLogLinesThrottled) {
  ASSERT_NO_FATAL_FAILURE(StartRouter("handshake_timeout: 1s"));
  const int port = router_->http_port();
  const std::string before = ScrapeMetrics(port, dir_ + "/ca.pem");
  // Every reason is there from zero.
  for (const char* reason : {"timeout", "closed", "tls_error", "not_tls", "plain_http"}) {
    EXPECT_TRUE(absl::StrContains(
        before, absl::StrCat("switchboard_http_tls_handshake_failures_total{reason=\"", reason,
                             "\"} 0\n")))
        << reason << "\n" << before;
  }

  const auto start = std::chrono::steady_clock::now();
  RawConnection stalled(port);  // never sends a ClientHello: timeout
  ASSERT_TRUE(stalled.connected());
  { RawConnection closed(port); }  // closes at once: closed
  for (int i = 0; i < 20; ++i) {   // a scanner's burst of noise: not_tls
    RawConnection noise(port);
    ASSERT_TRUE(noise.WriteRaw("\x01noise"));
    EXPECT_EQ(noise.ReadAll(), "");
  }
  // A complete ClientHello record whose body does not parse (its session id length, 0xff, runs
  // past the end): OpenSSL answers a decode_error alert: tls_error.
  RawConnection bad_record(port);
  ASSERT_TRUE(bad_record.WriteRaw(std::string("\x16\x03\x01\x00\x2c\x01\x00\x00\x28\x03\x03", 11) +
                                  std::string(38, '\xff')));
  EXPECT_FALSE(absl::StrContains(bad_record.ReadAll(), "HTTP/1.1"));
  RawConnection plain(port);  // plain HTTP: plain_http
  ASSERT_TRUE(plain.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(plain.ReadAll().starts_with("HTTP/1.1 400"));
  EXPECT_EQ(stalled.ReadAll(), "") << "cut at handshake_timeout";
  // After a quiet second, one more failure is logged with the count of the lines held back.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  RawConnection last(port);
  ASSERT_TRUE(last.WriteRaw("\x02"));
  EXPECT_EQ(last.ReadAll(), "");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::map<std::string, int> expected = {
      {"timeout", 1}, {"closed", 1}, {"tls_error", 1}, {"not_tls", 21}, {"plain_http", 1}};
  std::string metrics;
  bool all_counted = false;
  for (int i = 0; i < 50 && !all_counted; ++i) {  // `closed` is counted after its close arrives
    metrics = ScrapeMetrics(port, dir_ + "/ca.pem");
    all_counted = true;
    for (const auto& [reason, n] : expected) {
      all_counted &= absl::StrContains(
          metrics, absl::StrCat("switchboard_http_tls_handshake_failures_total{reason=\"", reason,
                                "\"} ", n, "\n"));
    }
    if (!all_counted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(all_counted) << metrics;

  // The log: at most one line per second (plus the first), and together with the counts they
  // carry, every one of the 25 failures is accounted for.
  const HandshakeLines log = CountHandshakeLines(router_->log());
  EXPECT_LE(log.lines, 2 + static_cast<int>(took)) << "took " << took << "s\n" << router_->log();
  EXPECT_GE(log.lines, 2) << router_->log();
  EXPECT_EQ(log.lines + log.suppressed, 25u) << router_->log();
  EXPECT_GT(log.suppressed, 0u) << "the burst was thinned\n" << router_->log();
}

TEST_F(HttpsTest, SighupServesAReplacedCertificateToNewConnections) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(""));
  EXPECT_EQ(Post("msg_old_cert"), 200);
  // A connection opened before the reload keeps the certificate it was served.
  auto before = Tls();

  UseCertificate("other-server");
  ASSERT_TRUE(router_->Signal(SIGHUP));
  bool applied = false;
  for (int i = 0; i < 200 && !applied; ++i) {
    applied = absl::StrContains(router_->log(), R"("result":"applied")");
    if (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(applied) << router_->log();
  EXPECT_EQ(Post("msg_new_cert", "other-ca.pem"), 200);
  EXPECT_EQ(Post("msg_stale_ca", "ca.pem"), -1) << "new connections get the new certificate";

  const SignedWebhook w = SignResendWebhook(kSecret, "msg_on_old_connection");
  std::string head = RequestHead(w, w.body.size());
  head.insert(head.find("\r\n") + 2, "Connection: close\r\n");
  ASSERT_TRUE(before->Write(head + w.body));
  EXPECT_TRUE(before->ReadAll().starts_with("HTTP/1.1 200"));

  // A key that does not match the certificate is refused; the running certificate stays.
  std::filesystem::copy_file(dir_ + "/server.key", dir_ + "/https.key",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(router_->Signal(SIGHUP));
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    refused = absl::StrContains(
        router_->log(),
        R"("result":"refused","error":"http.tls: cert_file \")" + dir_ +
            R"(/https.pem\", key_file \")" + dir_ +
            R"(/https.key\": the private key does not match the certificate)");
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(refused) << router_->log();
  EXPECT_EQ(Post("msg_still_new_cert", "other-ca.pem"), 200);

  // The right key under a passphrase: refused without asking for it. OpenSSL's default callback
  // prompts ("Enter PEM pass phrase:"), and on a terminal the reload then blocked, SIGTERM too.
  ASSERT_TRUE(EncryptKey(dir_ + "/other-server.key", dir_ + "/https.key")) << "openssl pkey";
  ASSERT_TRUE(router_->Signal(SIGHUP));
  size_t refusals = 0;
  for (int i = 0; i < 200 && refusals < 2; ++i) {
    const std::string log = router_->log();
    refusals = 0;
    for (size_t at = log.find(R"("result":"refused")"); at != std::string::npos;
         at = log.find(R"("result":"refused")", at + 1)) {
      ++refusals;
    }
    if (refusals < 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(refusals, 2u) << router_->log();
  EXPECT_FALSE(absl::StrContains(router_->log(), "pass phrase")) << router_->log();
  EXPECT_EQ(Post("msg_after_encrypted_key", "other-ca.pem"), 200);
}

// A certificate outside its validity period is still served (the clients decide), and the
// start or the reload says so.
TEST(HttpsStartTest, AnExpiredCertificateStartsAndAReloadedOneIsAppliedWithAWarning) {
  const std::string dir = MakeTempDir("https-expired");
  const absl::Time expired_at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 86400);
  auto pair = crypto::GenerateRsaKeyPair(2048, "localhost", expired_at - absl::Hours(24),
                                         expired_at);
  ASSERT_TRUE(pair.ok()) << pair.status();
  std::ofstream(dir + "/https.pem") << pair->certificate_pem;
  std::ofstream(dir + "/https.key") << pair->private_key_pem;
  auto router = RouterProcess::Start(dir, HttpsConfig(""));
  ASSERT_TRUE(router.ok()) << router.status();
  const std::string log = (*router)->log();
  EXPECT_TRUE(absl::StrContains(
      log, absl::StrCat(R"("event":"tls","field":"http.tls","cert_file":")", dir,
                        R"(/https.pem","certificate":"expired","not_before":")",
                        absl::FormatTime(absl::RFC3339_sec, expired_at - absl::Hours(24),
                                         absl::UTCTimeZone()),
                        R"(","not_after":")",
                        absl::FormatTime(absl::RFC3339_sec, expired_at, absl::UTCTimeZone()),
                        R"(")")))
      << log;

  // A reload to a certificate not valid yet is applied, with the same warning.
  const absl::Time valid_from = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 86400);
  auto future = crypto::GenerateRsaKeyPair(2048, "localhost", valid_from,
                                           valid_from + absl::Hours(24));
  ASSERT_TRUE(future.ok()) << future.status();
  std::ofstream(dir + "/https.pem", std::ios::trunc) << future->certificate_pem;
  std::ofstream(dir + "/https.key", std::ios::trunc) << future->private_key_pem;
  ASSERT_TRUE((*router)->Signal(SIGHUP));
  const std::string warning = absl::StrCat(
      R"("certificate":"not yet valid","not_before":")",
      absl::FormatTime(absl::RFC3339_sec, valid_from, absl::UTCTimeZone()), R"(")");
  bool warned = false;
  for (int i = 0; i < 200 && !warned; ++i) {
    const std::string now_log = (*router)->log();
    warned = absl::StrContains(now_log, warning) &&
             absl::StrContains(now_log, R"("result":"applied")");
    if (!warned) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(warned) << (*router)->log();
}

TEST(HttpsStartTest, AnEncryptedKeyEndsTheStartBeforeTheStoreAndNeverPrompts) {
  const std::string dir = MakeTempDir("https-encrypted");
  ASSERT_TRUE(MakeCertificates(dir)) << Slurp(dir + "/openssl.log");
  std::filesystem::copy_file(dir + "/server.pem", dir + "/https.pem");
  ASSERT_TRUE(EncryptKey(dir + "/server.key", dir + "/https.key")) << "openssl pkey";
  auto router = RouterProcess::Start(dir, HttpsConfig(""));
  ASSERT_FALSE(router.ok());
  const std::string message(router.status().message());
  EXPECT_TRUE(absl::StrContains(message, "(exit status 1)")) << message;
  EXPECT_TRUE(absl::StrContains(message, "http.tls: cert_file")) << message;
  EXPECT_TRUE(absl::StrContains(message, "private key: encrypted, which is not supported"))
      << message;
  EXPECT_FALSE(absl::StrContains(message, "pass phrase")) << message;
  EXPECT_FALSE(std::filesystem::exists(dir + "/data")) << message;
}

}  // namespace
}  // namespace switchboard::testing
