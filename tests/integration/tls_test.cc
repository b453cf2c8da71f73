// gRPC over TLS on the real router (config `grpc.tls`, README "Configuration"): a throwaway CA and
// certificates made with the `openssl` command (Debian's openssl package, a dependency of
// ca-certificates) in the test's folder. An agent that trusts the CA subscribes; a plaintext client
// fails cleanly and the server keeps serving; with client_ca_file, an agent without a client
// certificate is refused and one with a certificate the CA signed gets in.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/router_process.h"
#include "switchboard/v1/agent.grpc.pb.h"

namespace switchboard::testing {
namespace {

constexpr char kToken[] = "audit-token-0123456789";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ca.pem/ca.key, server.pem/server.key (CN and SAN 127.0.0.1, localhost), client.pem/client.key.
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
      "-out client.pem");
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

}  // namespace
}  // namespace switchboard::testing
