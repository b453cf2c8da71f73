#include "tests/integration/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace switchboard::testing {

RawConnection::RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
  timeval timeout{};
  timeout.tv_sec = 15;
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

RawConnection::~RawConnection() {
  if (tls_ != nullptr) SSL_free(tls_);
  if (tls_context_ != nullptr) SSL_CTX_free(tls_context_);
  close(fd_);
}

bool RawConnection::StartTls(const std::string& ca_file) {
  if (!connected_ || tls_context_ != nullptr) return false;
  tls_context_ = SSL_CTX_new(TLS_client_method());
  if (tls_context_ == nullptr ||
      SSL_CTX_set_min_proto_version(tls_context_, TLS1_2_VERSION) != 1 ||
      SSL_CTX_load_verify_locations(tls_context_, ca_file.c_str(), nullptr) != 1) {
    return false;
  }
  SSL_CTX_set_verify(tls_context_, SSL_VERIFY_PEER, nullptr);
  SSL* tls = SSL_new(tls_context_);
  if (tls == nullptr) return false;
  if (SSL_set_fd(tls, fd_) != 1 || SSL_set1_host(tls, "localhost") != 1 ||
      SSL_set_tlsext_host_name(tls, "localhost") != 1 || SSL_connect(tls) != 1) {
    SSL_free(tls);
    return false;
  }
  tls_ = tls;
  return true;
}

bool RawConnection::Write(const std::string& bytes) {
  if (tls_ == nullptr) return WriteRaw(bytes);
  size_t sent = 0;
  while (sent < bytes.size()) {
    size_t written = 0;
    if (SSL_write_ex(tls_, bytes.data() + sent, bytes.size() - sent, &written) != 1) return false;
    sent += written;
  }
  return true;
}

bool RawConnection::WriteRaw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string RawConnection::ReadAll() {
  std::string out;
  char buf[4096];
  for (;;) {
    if (tls_ != nullptr) {
      size_t n = 0;
      if (SSL_read_ex(tls_, buf, sizeof(buf), &n) != 1) break;
      out.append(buf, n);
    } else {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  return out;
}

}  // namespace switchboard::testing
