#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/ingress/webhook_handler.h"
#include "router/metrics/registry.h"

namespace switchboard::ingress {

// HTTPS: a server certificate as PEM files (OpenSSL's SSL_CTX_use_certificate_chain_file and
// SSL_CTX_use_PrivateKey_file formats).
struct HttpTlsFiles {
  std::string cert_file;  // the certificate chain, leaf first
  std::string key_file;   // its private key (unencrypted)
};

struct HttpServerOptions {
  std::string listen = "0.0.0.0:8080";  // "host:port" or "[v6]:port"; port 0 picks a free port
  uint64_t max_body = 10ull << 20;      // bytes, unless the source sets SourceConfig.max_body
  int io_threads = 2;
  uint32_t header_limit = 16 * 1024;    // bytes of request line + headers; over it: 431
  uint32_t max_header_count = 100;      // header fields per request; over it: 431
  // Open connections at most; a connection accepted over the cap is closed at once, unanswered.
  uint32_t max_connections = 1024;
  // Bytes of request bodies held in memory across all requests in flight (from their header to
  // their response). A request that would exceed it gets 503 + Retry-After before its body is read.
  // A request reserves its Content-Length, or its source's body limit when the body is chunked.
  uint64_t max_inflight_body = 256ull << 20;
  // Time allowed to receive a complete request header, counted from the end of the previous
  // response (so it bounds keep-alive idleness and slow headers alike); then the connection closes.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Time allowed to receive a request's body once its header is in, and to write a response.
  absl::Duration read_timeout = absl::Seconds(30);
  // Set: every connection speaks TLS (1.2 or later) and nothing else. Unset: plain HTTP.
  std::optional<HttpTlsFiles> tls;
  // HTTPS: time allowed from accept to a completed TLS handshake (a client that never sends its
  // ClientHello is cut then).
  absl::Duration handshake_timeout = absl::Seconds(10);
  // /readyz answers 200 when this returns true, else 503. Null: always ready.
  std::function<bool()> ready;
  // GET /metrics answers 200 with this text (Prometheus text format 0.0.4). Must be cheap and
  // must not block: it runs on an io thread. Null: /metrics is 404.
  std::function<std::string()> metrics;
  // HTTPS: where failed handshakes are counted (switchboard_http_tls_handshake_failures_total,
  // README "Metrics"). Null: not counted. Must outlive the server.
  metrics::Registry* metrics_registry = nullptr;
};

// The HTTP/1.1 ingress (Boost.Beast over asio, plain TCP or TLS through asio::ssl/OpenSSL),
// modelled on Beast's advanced_server and advanced_server_flex: `io_threads` threads run one
// io_context, each connection runs on its own strand with a fresh request parser per request,
// and keep-alive is supported.
//
// HTTPS (options.tls set): the port speaks TLS 1.2+ only (RFC 5246, RFC 8446). From accept, the
// connection has handshake_timeout to complete its handshake, then the limits below apply to the
// decrypted requests exactly as on plain HTTP; the connection counts against max_connections
// from accept. A client whose first bytes are not a TLS handshake record (plain HTTP on the HTTPS
// port) gets a plain-text 400 "this port speaks HTTPS" and is closed; a failed handshake or a
// malformed TLS record closes the connection. Each of these counts in
// switchboard_http_tls_handshake_failures_total{reason} (reason: timeout, closed, tls_error,
// not_tls, plain_http) and is logged at info, at most one line per second across the server (a
// port scanner must not flood the log): a line after dropped ones carries "suppressed": N.
// ReloadTls swaps the certificate for connections accepted afterwards.
//
// Routes:
//   POST /v1/webhooks/{source}   WebhookHandler::Handle; other methods on that path: 405
//   GET|HEAD /healthz            200 "ok"
//   GET|HEAD /readyz             200 "ready" / 503 "not ready" (HttpServerOptions::ready)
//   GET|HEAD /metrics            200 text/plain; version=0.0.4 (HttpServerOptions::metrics)
//   anything else                404
// Limits (each error answer closes the connection):
//   - a Content-Length above the source's body limit gets 413 before any body byte is read (a
//     chunked body is cut at the same limit, also 413);
//   - a header above header_limit bytes or with more than max_header_count fields gets 431;
//   - a body that would take the bytes held by requests in flight over max_inflight_body gets
//     503 + Retry-After: 1 before it is read (a transient condition: providers retry);
//   - over max_connections open connections, a new one is accepted and closed at once;
//   - the header must arrive within idle_timeout and the body within read_timeout (a slowloris
//     client is cut whatever its pace), else the connection closes unanswered;
//   - one request at a time per connection: a pipelined request is not parsed before the answer
//     to the previous one is written, so a connection holds at most one body;
//   - only the methods listed under Routes; others get 405 with Allow;
//   - an unparseable request gets 400.
// The handler's callback posts the response back to the connection's strand: no io thread ever
// waits for the store.
//
// Thread-safe. REQUIRES: `handler` outlives the server; destroy the server only after the store
// has called back every commit it was given (see WebhookHandler).
class HttpServer {
 public:
  // Binds and listens (not yet accepting). kInvalidArgument: `listen` is not host:port, or the
  // TLS certificate or key cannot be loaded (the message names the file); kUnavailable: the
  // address cannot be bound (in use, not local, no permission).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerOptions options,
                                                            WebhookHandler& handler);
  ~HttpServer();  // Stop(absl::ZeroDuration()) unless stopped

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the io threads and accepting. Call once.
  void Start();

  // Stops accepting, closes idle connections, lets requests in flight finish (their connections
  // close after the response) for at most `grace`, then stops the io threads. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(10));

  // The bound port (the real one when `listen` asked for port 0).
  uint16_t port() const;

  // HTTPS: loads `files` and serves connections accepted from now on with them (connections
  // already open keep theirs). kInvalidArgument: a file cannot be loaded, or the key does not
  // match the certificate (the running certificate stays); kFailedPrecondition: the server was
  // created without TLS.
  absl::Status ReloadTls(const HttpTlsFiles& files);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::ingress
