#pragma once

#include <openssl/ssl.h>

#include <string>

namespace switchboard::testing {

// A client connection to 127.0.0.1:<port> for the bytes an HTTP client library would not send
// (a header cut short, a pipelined pair, garbage): plain TCP, or TLS (OpenSSL) once StartTls
// succeeded. Every read waits at most 15 s. Not thread-safe.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // TLS handshake (TLS 1.2+), the server's certificate verified against the PEM CAs in `ca_file`
  // and the host name "localhost". False if the handshake fails.
  bool StartTls(const std::string& ca_file);

  // Sends every byte (through TLS after StartTls). False on failure.
  bool Write(const std::string& bytes);

  // Sends every byte on the TCP socket itself, under TLS if any (a malformed record). False on
  // failure.
  bool WriteRaw(const std::string& bytes);

  // Everything received until the server closes the connection (or a read waits 15 s).
  std::string ReadAll();

 private:
  int fd_ = -1;
  bool connected_ = false;
  SSL_CTX* tls_context_ = nullptr;
  SSL* tls_ = nullptr;  // set once StartTls succeeded
};

}  // namespace switchboard::testing
