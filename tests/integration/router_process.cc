#include "tests/integration/router_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <future>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace switchboard::testing {

namespace fs = std::filesystem;

std::string BinaryPath(const std::string& relative) {
  return std::string(SWITCHBOARD_BINARY_DIR) + "/" + relative;
}

std::string MinimalRouterConfig(const std::string& http, const std::string& grpc,
                                const std::string& extra) {
  return absl::StrCat("http:  { listen: \"", http, "\" }\ngrpc:  { listen: \"", grpc,
                      "\" }\nstore: { kind: embedded, path: \"./data/switchboard.db\" }\n", extra,
                      R"(
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }
agents:
  - { name: audit, tokens: ["audit-token"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)");
}

namespace {

// The folders MakeTempDir made. They go when the test program ends with no test failed; after a
// failure they stay, with the routers' logs in them.
class MadeDirs {
 public:
  static MadeDirs& Get() {
    static MadeDirs* const dirs = new MadeDirs;  // never destroyed: no order with other statics
    return *dirs;
  }
  void Add(std::string dir) {
    absl::MutexLock lock(&mu_);
    dirs_.push_back(std::move(dir));
  }
  void RemoveUnlessFailed() {
    if (::testing::UnitTest::GetInstance()->Failed()) return;
    absl::MutexLock lock(&mu_);
    std::error_code ignored;
    for (const std::string& dir : dirs_) fs::remove_all(dir, ignored);
    dirs_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> dirs_;
};

// Runs MadeDirs' removal at the end of the test program (after every test's processes stopped).
class Remover : public ::testing::Environment {
 public:
  void TearDown() override { MadeDirs::Get().RemoveUnlessFailed(); }
};
::testing::Environment* const kRemover = ::testing::AddGlobalTestEnvironment(new Remover);

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base ? base : fs::temp_directory_path().string(), "/",
                                     prefix, "-XXXXXX");
  std::string buf = pattern;
  char* made = mkdtemp(buf.data());
  if (made == nullptr) return std::string();
  MadeDirs::Get().Add(made);
  return made;
}

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/testdata/fixtures/" + relative,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<RouterProcess>> RouterProcess::Start(const std::string& dir,
                                                                    const std::string& config) {
  std::ofstream(dir + "/switchboard.yaml") << config;
  std::unique_ptr<RouterProcess> p(new RouterProcess(dir));
  if (auto s = p->Launch(); !s.ok()) return s;
  return p;
}

RouterProcess::~RouterProcess() { Kill(); }

absl::Status RouterProcess::Restart() { return Launch(); }

absl::Status RouterProcess::Launch() {
  std::string ready = dir_ + "/ready.json";
  fs::remove(ready);
  std::string log = absl::StrCat(dir_, "/router.", ++launches_, ".log");
  std::string binary = BinaryPath("router/switchboard");
  std::string config = dir_ + "/switchboard.yaml";
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    FILE* out = freopen(log.c_str(), "w", stdout);
    (void)out;
    dup2(fileno(stdout), fileno(stderr));
    execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), "--ready-file",
          ready.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 400; ++i) {
    std::ifstream in(ready);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    int http = 0, grpc = 0;
    if (RE2::PartialMatch(text, R"re("http"\s*:\s*(\d+))re", &http) &&
        RE2::PartialMatch(text, R"re("grpc"\s*:\s*(\d+))re", &grpc)) {
      http_port_ = http;
      grpc_port_ = grpc;
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string how = WIFSIGNALED(status)
                                  ? absl::StrCat("signal ", WTERMSIG(status))
                                  : absl::StrCat("exit status ", WEXITSTATUS(status));
      return absl::InternalError(
          absl::StrCat("router exited at start (", how, "): ", this->log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("router not ready in 20 s: ", this->log()));
}

void RouterProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int RouterProcess::Terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

bool RouterProcess::Signal(int sig) { return pid_ > 0 && ::kill(pid_, sig) == 0; }

int RouterProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string RouterProcess::webhook_url(const std::string& source) const {
  return absl::StrCat("http://127.0.0.1:", http_port_, "/v1/webhooks/", source);
}

std::string RouterProcess::grpc_target() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

std::string RouterProcess::log() const {
  std::ifstream in(absl::StrCat(dir_, "/router.", launches_, ".log"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// grpc.health.v1.Health/Check with an empty HealthCheckRequest (service "": the server as a
// whole), over a generic stub so that no copy of health.proto is needed. The answer's status
// field is decoded from the protobuf wire format (field 1, varint: tag byte 0x08); an absent field
// is its default 0 (UNKNOWN). Returns -1 on an RPC error.
int GrpcHealthStatus(const std::string& target) {
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty_message("");  // HealthCheckRequest{} encodes to zero bytes
  grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (bytes.empty()) return 0;
  if (bytes.size() != 2 || bytes[0] != 0x08) return -1;
  return bytes[1];
}

}  // namespace switchboard::testing
