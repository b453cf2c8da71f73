#include "router/ingress/http_server.h"

#include <array>
#include <atomic>
#include <exception>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "router/common/log_throttle.h"
#include "spdlog/spdlog.h"

namespace switchboard::ingress {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::string_view kWebhookPrefix = "/v1/webhooks/";
// After an error answer the connection closes; unread request bytes are drained this long so the
// kernel does not reset the connection before the client has read the answer.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Read buffer of a connection. Beast reads max(512, free capacity) bytes per call, and its parser
// consumes what it parsed, so a buffer that is never reserved stays near 512 bytes and a 2 KB
// webhook costs four recv calls. A request header gets kHeaderReadBytes; a body, up to
// kBodyReadBytes (Beast's own cap per read), by its Content-Length.
constexpr size_t kHeaderReadBytes = 8 * 1024;
constexpr size_t kBodyReadBytes = 64 * 1024;
// The answer to plain HTTP on the HTTPS port, written unencrypted (as nginx does) so that a
// misconfigured client learns why instead of seeing a reset.
constexpr std::string_view kHttpsOnly =
    "HTTP/1.1 400 Bad Request\r\nServer: switchboard\r\nContent-Type: text/plain\r\n"
    "Content-Length: 23\r\nConnection: close\r\n\r\nthis port speaks HTTPS\n";

// The `reason` label values of switchboard_http_tls_handshake_failures_total: a fixed set,
// whatever the client sends.
constexpr std::array<const char*, 5> kHandshakeFailureReasons = {
    "timeout",      // handshake_timeout ran out
    "closed",       // the client closed or reset the connection before the handshake completed
    "tls_error",    // a TLS alert or error: no shared version or cipher, a malformed record, ...
    "not_tls",      // the first bytes are neither a TLS handshake nor an HTTP request
    "plain_http"};  // an HTTP request on the HTTPS port (answered 400)

void LogJson(spdlog::level::level_enum level, const boost::json::object& line) {
  spdlog::log(level, boost::json::serialize(line));
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

absl::StatusOr<tcp::endpoint> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("listen \"", listen, "\": expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  uint32_t port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("listen \"", listen, "\": bad port"));
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen \"", listen, "\": host is not an IP address"));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

// A pem_password_cb with no passphrase to give: an encrypted key_file fails to load instead of
// OpenSSL's default callback prompting on the controlling terminal (and blocking a start or a
// SIGHUP reload until someone types).
int NoPassphrase(char*, int, int, void*) { return -1; }

// A server TLS context: TLS 1.2 and later only, the certificate chain and key from PEM files.
// kInvalidArgument naming the file that cannot be used; an encrypted key is refused.
absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const HttpTlsFiles& files) {
  std::shared_ptr<ssl::context> context;
  try {
    context = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("https: cannot create a TLS context: ", e.what()));
  }
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return absl::InternalError("https: cannot require TLS 1.2");
  }
  SSL_CTX_set_default_passwd_cb(native, NoPassphrase);
  beast::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::single_dh_use, ec);
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "https: cert_file \"", files.cert_file, "\": not a usable PEM certificate chain (",
        ec.message(), ")"));
  }
  context->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("https: key_file \"", files.key_file,
                                                   "\": not a usable PEM private key (",
                                                   ec.message(), ")"));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("https: key_file \"", files.key_file,
                                                   "\" does not match cert_file \"",
                                                   files.cert_file, "\""));
  }
  return context;
}

// What the server's registry and its Stop need of a connection, plain or TLS.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Run() = 0;
  // Closes a connection that was never run (over max_connections).
  virtual void Abort() = 0;
  // Server stop, from any thread: an idle connection closes now; a request in flight finishes,
  // then closes.
  virtual void PostShutdown() = 0;
};

// What the server shares with its sessions and with the callbacks it hands to the handler. Those
// callbacks may outlive the server (the store owns them), so they hold this, not the server.
struct ServerState {
  ServerState(HttpServerOptions opts, WebhookHandler& h) : options(std::move(opts)), handler(h) {}

  const HttpServerOptions options;
  WebhookHandler& handler;
  std::atomic<bool> stopping{false};
  // Body bytes reserved by requests in flight (BodyReservation); at most options.max_inflight_body.
  std::atomic<uint64_t> inflight_body{0};

  absl::Mutex mu;
  // Owns every open connection; a session removes itself when it closes.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> sessions ABSL_GUARDED_BY(mu);
  // HTTPS: the context new connections handshake with (ReloadTls swaps it); null: plain HTTP.
  std::shared_ptr<ssl::context> tls ABSL_GUARDED_BY(mu);
  bool NoSessions() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return sessions.empty(); }
  // False once the io_context is being destroyed: nothing may be posted to it any more.
  bool open ABSL_GUARDED_BY(mu) = true;

  // HTTPS: failed handshakes, by reason (null: options.metrics_registry unset), and the throttle
  // of their log lines.
  metrics::CounterFamily* handshake_failures = nullptr;
  LogThrottle handshake_log{absl::Seconds(1)};

  // Counts a failed handshake under `reason` (one of kHandshakeFailureReasons) and logs it unless
  // the throttle holds the line back. Not while stopping: the server cut those connections.
  void HandshakeFailed(std::string_view reason, boost::json::object line) {
    if (stopping.load()) return;
    if (handshake_failures != nullptr) {
      handshake_failures->WithLabels({std::string(reason)}).Increment();
    }
    const std::optional<uint64_t> suppressed = handshake_log.Admit();
    if (!suppressed) return;
    line["reason"] = reason;
    if (*suppressed > 0) line["suppressed"] = *suppressed;
    LogJson(spdlog::level::info, line);
  }
};

// A share of ServerState::inflight_body, returned when destroyed.
class BodyReservation {
 public:
  BodyReservation() = default;
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  ~BodyReservation() { Release(); }

  // False (and nothing reserved) when `bytes` more would exceed the cap.
  bool TryReserve(ServerState& state, uint64_t bytes) {
    Release();
    uint64_t held = state.inflight_body.load();
    do {
      if (bytes > state.options.max_inflight_body ||
          held > state.options.max_inflight_body - bytes) {
        return false;
      }
    } while (!state.inflight_body.compare_exchange_weak(held, held + bytes));
    state_ = &state;
    bytes_ = bytes;
    return true;
  }

  void Release() {
    if (state_ != nullptr) state_->inflight_body.fetch_sub(bytes_);
    state_ = nullptr;
    bytes_ = 0;
  }

 private:
  ServerState* state_ = nullptr;  // the session's shared state outlives the session
  uint64_t bytes_ = 0;
};

// One connection over `Stream` (PlainStream or TlsStream). Every member function but the
// Connection overrides runs on the connection's strand.
template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `tls`: the context of a TlsStream (kept alive as long as the connection); null for plain.
  Session(tcp::socket&& socket, std::shared_ptr<ServerState> state,
          std::shared_ptr<ssl::context> tls)
      : tls_(std::move(tls)), stream_(MakeStream(std::move(socket), tls_.get())),
        state_(std::move(state)) {}

  void Run() override {
    net::dispatch(Lowest().get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->DetectTls();
      } else {
        self->DoRead();
      }
    });
  }

  void Abort() override {
    beast::error_code ec;
    Lowest().socket().close(ec);
  }

  void PostShutdown() override {
    net::post(Lowest().get_executor(), [self = this->shared_from_this()] {
      // Waiting for a request header (or a handshake): nothing is lost by closing now.
      if (self->reading_header_) self->Lowest().cancel();
    });
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  auto executor() { return Lowest().get_executor(); }
  auto Self() { return this->shared_from_this(); }

  // HTTPS: the first bytes must open a TLS handshake; the whole handshake (with this read) has
  // handshake_timeout.
  void DetectTls() {
    peer_ = Peer();  // now: a timeout closes the socket before the log line is written
    reading_header_ = true;
    Lowest().expires_after(ToChrono(state_->options.handshake_timeout));
    beast::async_detect_ssl(Lowest(), buffer_,
                            beast::bind_front_handler(&Session::OnDetect, Self()));
  }

  void OnDetect(beast::error_code ec, bool tls) {
    if (ec) {
      reading_header_ = false;
      return OnHandshakeError(ec);
    }
    if (!tls) {
      reading_header_ = false;
      // Not a ClientHello. A request line starts with a method (upper-case letters): answer in
      // plain HTTP; anything else is a broken TLS client or noise, closed without a word.
      const auto first = static_cast<const char*>(buffer_.data().data());
      if (buffer_.size() == 0 || first[0] < 'A' || first[0] > 'Z') {
        state_->HandshakeFailed("not_tls", {{"msg", "https handshake failed"},
                                            {"peer", peer_},
                                            {"error", "not a TLS ClientHello"}});
        return Close();
      }
      state_->HandshakeFailed("plain_http", {{"msg", "https: plain HTTP on the HTTPS port refused"},
                                             {"peer", peer_}});
      Lowest().expires_after(ToChrono(state_->options.read_timeout));
      linger_ = true;
      return net::async_write(Lowest(), net::buffer(kHttpsOnly.data(), kHttpsOnly.size()),
                              [self = Self()](beast::error_code, size_t) { self->Close(); });
    }
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                              beast::bind_front_handler(&Session::OnHandshake, Self()));
    }
  }

  void OnHandshake(beast::error_code ec, size_t bytes_used) {
    reading_header_ = false;
    if (ec) return OnHandshakeError(ec);
    buffer_.consume(bytes_used);
    tls_open_ = true;
    DoRead();
  }

  // A timeout, a reset, a client that does not speak TLS 1.2+ or a malformed record: counted, a
  // (throttled) log line that never holds the bytes, and the connection closes.
  void OnHandshakeError(beast::error_code ec) {
    const bool timeout = ec == beast::error::timeout;
    const bool closed = ec == net::error::eof || ec == net::error::connection_reset ||
                        ec == ssl::error::stream_truncated;
    state_->HandshakeFailed(
        timeout ? "timeout" : closed ? "closed" : "tls_error",
        {{"msg", "https handshake failed"},
         {"peer", peer_},
         {"error", timeout ? std::string("timeout (handshake_timeout)") : ec.message()}});
    Close();
  }

  std::string Peer() {
    beast::error_code ec;
    const tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    return ec ? std::string("?") : absl::StrCat(peer.address().to_string(), ":", peer.port());
  }

  void DoRead() {
    if (state_->stopping.load()) return Close();
    parser_.emplace();
    parser_->header_limit(state_->options.header_limit);
    // The body limit depends on the source, known once the header is in (see OnHeader).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    reading_header_ = true;
    if (buffer_.capacity() < kHeaderReadBytes) buffer_.reserve(kHeaderReadBytes);
    Lowest().expires_after(ToChrono(state_->options.idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, Self()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    reading_header_ = false;
    if (ec == http::error::header_limit) return SendError(431, "request header too large");
    if (ec) return OnReadError(ec);

    const auto& request = parser_->get();
    // Beast bounds the header's bytes, not its fields; header_limit bounds the memory this took.
    if (static_cast<uint64_t>(std::distance(request.begin(), request.end())) >
        state_->options.max_header_count) {
      return SendError(431, "too many header fields");
    }
    keep_alive_ = request.keep_alive();
    head_ = request.method() == http::verb::head;
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));

    if (path == "/metrics" && state_->options.metrics) {
      if (request.method() != http::verb::get && !head_) return SendNotAllowed("GET, HEAD");
      HttpResponse response = Text(200, state_->options.metrics());
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return Send(std::move(response));
    }
    if (path == "/healthz" || path == "/readyz") {
      if (request.method() != http::verb::get && !head_) {
        return SendNotAllowed("GET, HEAD");
      }
      const bool ready = path == "/healthz" || !state_->options.ready || state_->options.ready();
      return SendText(ready ? 200 : 503,
                      path == "/healthz" ? "ok" : (ready ? "ready" : "not ready"));
    }
    if (!path.starts_with(kWebhookPrefix)) return SendText(404, "not found");
    const std::string_view source = path.substr(kWebhookPrefix.size());
    if (source.empty() || source.find('/') != std::string_view::npos) {
      return SendText(404, "not found");
    }
    // HEAD and GET reach the handler too: providers that probe the URL (Mandrill) get their 200
    // there, every other source a 405.
    if (request.method() != http::verb::post && request.method() != http::verb::get && !head_) {
      return SendNotAllowed("POST");
    }

    const uint64_t limit =
        state_->handler.SourceMaxBody(source).value_or(state_->options.max_body);
    const auto length = parser_->content_length();  // boost::optional
    if (length && *length > limit) return SendError(413, "body too large");
    // A chunked body may grow up to the limit, so that is what it reserves.
    if (!body_reservation_.TryReserve(*state_, length ? *length : limit)) {
      HttpResponse busy = Text(503, "too many request bodies in flight, retry later");
      busy.headers.emplace_back("Retry-After", "1");
      keep_alive_ = false;
      linger_ = true;
      return Send(std::move(busy));
    }
    parser_->body_limit(limit);
    const size_t body_read = static_cast<size_t>(
        std::min<uint64_t>(kBodyReadBytes, buffer_.size() + (length ? *length : kBodyReadBytes)));
    if (buffer_.capacity() < body_read) buffer_.reserve(body_read);
    source_ = std::string(source);
    Lowest().expires_after(ToChrono(state_->options.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, Self()));
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (ec == http::error::body_limit) return SendError(413, "body too large");
    if (ec) return OnReadError(ec);

    http::request<http::string_body> message = parser_->release();
    providers::WebhookRequest request;
    request.source = std::move(source_);
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.headers.reserve(std::distance(message.begin(), message.end()));
    for (const auto& field : message) {
      request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                   std::string(field.value()));
    }
    request.body = std::move(message.body());

    // Waiting for the store is not an io operation: no timer runs until the response is written.
    Lowest().expires_never();
    state_->handler.Handle(
        std::move(request), [state = state_, weak = this->weak_from_this()](HttpResponse response) {
          absl::MutexLock lock(&state->mu);
          if (!state->open) return;
          if (std::shared_ptr<Session> self = weak.lock()) {
            net::post(self->executor(), [self, response = std::move(response)]() mutable {
              self->Send(std::move(response));
            });
          }
        });
  }

  void OnReadError(beast::error_code ec) {
    // A malformed request gets an answer; a timeout, reset or clean end just closes.
    const auto& http_errors = http::make_error_code(http::error::bad_method).category();
    const bool parse_error = ec != http::error::end_of_stream && ec.category() == http_errors;
    if (parse_error) {
      return SendError(400, "bad request");
    }
    Close();
  }

  static HttpResponse Text(int status, std::string_view text) {
    HttpResponse response;
    response.status = status;
    response.content_type = "text/plain";
    response.body = std::string(text);
    return response;
  }

  void SendText(int status, std::string_view text) { Send(Text(status, text)); }

  void SendNotAllowed(std::string_view allow) {
    HttpResponse response = Text(405, "method not allowed");
    response.headers.emplace_back("Allow", allow);
    Send(std::move(response));
  }

  // An answer to a request that was not read in full: the connection closes after it.
  void SendError(int status, std::string_view text) {
    keep_alive_ = false;
    linger_ = true;
    Send(Text(status, text));
  }

  void Send(HttpResponse r) {
    // Unread body bytes would be taken for the next request.
    if (parser_ && !parser_->is_done()) {
      keep_alive_ = false;
      linger_ = true;
    }
    const bool keep_alive = keep_alive_ && !state_->stopping.load();
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "switchboard");
    response_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response_.set(name, value);
    response_.keep_alive(keep_alive);
    if (head_) {
      response_.content_length(r.body.size());
    } else {
      response_.body() = std::move(r.body);
      response_.prepare_payload();
    }
    Lowest().expires_after(ToChrono(state_->options.read_timeout));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::OnWrite, Self(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t /*bytes*/) {
    body_reservation_.Release();  // the request and its body are gone
    if (ec || !keep_alive) return Close();
    DoRead();
  }

  void Close() {
    body_reservation_.Release();
    if constexpr (kTls) {
      if (tls_open_) {
        // close_notify first, so the client can tell the end of the answer from a truncation.
        // Waits (bounded) for the client's own close_notify; records still arriving are dropped.
        tls_open_ = false;
        Lowest().expires_after(kLingerTimeout);
        return stream_.async_shutdown([self = Self()](beast::error_code) { self->Close(); });
      }
    }
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_ && !ec) {
      linger_ = false;
      Lowest().expires_after(kLingerTimeout);
      return Drain();
    }
    Lowest().close();
    absl::MutexLock lock(&state_->mu);
    state_->sessions.erase(this);  // the caller's completion handler still holds a reference
  }

  // Reads and drops what the client still sends (raw bytes: on TLS, after the TLS shutdown).
  void Drain() {
    Lowest().async_read_some(net::buffer(drain_buffer_),
                             [self = Self()](beast::error_code ec, size_t /*bytes*/) {
                               if (ec) return self->Close();
                               self->Drain();
                             });
  }

  const std::shared_ptr<ssl::context> tls_;  // before stream_: the stream's SSL uses it
  Stream stream_;
  const std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;  // fresh per request
  http::response<http::string_body> response_;                     // the one write in flight
  std::array<char, 4096> drain_buffer_;
  std::string source_;
  std::string peer_;  // HTTPS: "address:port" of the client, for the handshake's log lines
  BodyReservation body_reservation_;  // of the request being read or handled
  bool reading_header_ = false;  // or, on TLS, the handshake
  bool tls_open_ = false;        // the handshake succeeded and no close_notify was sent yet
  bool keep_alive_ = false;
  bool head_ = false;
  bool linger_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, WebhookHandler& handler)
      : state_(std::make_shared<ServerState>(std::move(options), handler)),
        acceptor_(net::make_strand(ioc_)) {}

  ~Impl() {
    Stop(absl::ZeroDuration());
    std::unordered_map<Connection*, std::shared_ptr<Connection>> sessions;
    {
      absl::MutexLock lock(&state_->mu);
      state_->open = false;
      sessions.swap(state_->sessions);
    }
    // `sessions`, then the io_context with the handlers it still holds, are destroyed here.
  }

  absl::Status Listen() {
    absl::StatusOr<tcp::endpoint> endpoint = ParseListen(state_->options.listen);
    if (!endpoint.ok()) return endpoint.status();
    if (state_->options.tls.has_value()) {
      absl::StatusOr<std::shared_ptr<ssl::context>> context =
          MakeTlsContext(*state_->options.tls);
      if (!context.ok()) return context.status();
      absl::MutexLock lock(&state_->mu);
      state_->tls = *std::move(context);
    }
    if (state_->options.tls.has_value() && state_->options.metrics_registry != nullptr) {
      state_->handshake_failures = &state_->options.metrics_registry->AddCounter(
          "switchboard_http_tls_handshake_failures_total",
          "HTTPS connections closed before a completed TLS handshake, by reason", {"reason"});
      // Every reason from zero, so that rate() and increase() see the first failure.
      for (const char* reason : kHandshakeFailureReasons) {
        state_->handshake_failures->WithLabels({reason});
      }
    }
    beast::error_code ec;
    acceptor_.open(endpoint->protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("listen \"", state_->options.listen, "\": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return absl::OkStatus();
  }

  void Start() {
    work_.emplace(ioc_.get_executor());
    DoAccept();
    const int n = std::max(1, state_->options.io_threads);
    threads_.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] { RunIo(); });
    }
  }

  void Stop(absl::Duration grace) {
    if (state_->stopping.exchange(true)) return;
    if (threads_.empty()) {
      beast::error_code ec;
      acceptor_.close(ec);
      return;
    }
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    {
      absl::MutexLock lock(&state_->mu);
      for (auto& [raw, session] : state_->sessions) session->PostShutdown();
      state_->mu.AwaitWithTimeout(absl::Condition(state_.get(), &ServerState::NoSessions), grace);
    }
    work_.reset();
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
  }

  uint16_t port() const { return port_; }

  absl::Status ReloadTls(const HttpTlsFiles& files) {
    if (!state_->options.tls.has_value()) {
      return absl::FailedPreconditionError("https: the ingress was started without TLS");
    }
    absl::StatusOr<std::shared_ptr<ssl::context>> context = MakeTlsContext(files);
    if (!context.ok()) return context.status();
    absl::MutexLock lock(&state_->mu);
    state_->tls = *std::move(context);
    return absl::OkStatus();
  }

 private:
  void RunIo() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        // No exception leaves an io thread; the connection whose handler threw is lost.
        LogJson(spdlog::level::err, {{"msg", "http io thread caught an exception"},
                                     {"what", e.what()}});
      }
    }
  }

  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Impl::OnAccept, this));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors (or another accept failure): retrying at once would spin a core
      // and flood the log while the condition lasts. Pause, then accept again.
      LogJson(spdlog::level::warn, {{"msg", "http accept failed"}, {"error", ec.message()}});
      accept_backoff_.expires_after(std::chrono::milliseconds(100));
      accept_backoff_.async_wait([this](beast::error_code) {
        if (acceptor_.is_open()) DoAccept();
      });
      return;
    } else if (!state_->stopping.load()) {
      std::shared_ptr<ssl::context> tls;
      {
        absl::MutexLock lock(&state_->mu);
        tls = state_->tls;
      }
      std::shared_ptr<Connection> session;
      if (tls != nullptr) {
        session = std::make_shared<Session<TlsStream>>(std::move(socket), state_, std::move(tls));
      } else {
        session = std::make_shared<Session<PlainStream>>(std::move(socket), state_, nullptr);
      }
      bool admitted = false;
      {
        absl::MutexLock lock(&state_->mu);
        if (state_->sessions.size() < state_->options.max_connections) {
          state_->sessions.emplace(session.get(), session);
          admitted = true;
        }
      }
      if (admitted) {
        at_connection_cap_ = false;
        session->Run();
      } else {
        // Over the cap: accepting and closing at once keeps the backlog from filling with
        // connections that would wait unanswered; the client sees the connection end and retries.
        // One log line per episode, not per connection.
        if (!at_connection_cap_) {
          LogJson(spdlog::level::warn,
                  {{"msg", "http connections refused: max_connections reached"},
                   {"max_connections", state_->options.max_connections}});
        }
        at_connection_cap_ = true;
        session->Abort();
      }
    }
    DoAccept();
  }

  const std::shared_ptr<ServerState> state_;
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_backoff_{acceptor_.get_executor()};  // after a failed accept
  bool at_connection_cap_ = false;  // on the acceptor's strand
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerOptions options,
                                                               WebhookHandler& handler) {
  auto impl = std::make_unique<Impl>(std::move(options), handler);
  if (absl::Status listening = impl->Listen(); !listening.ok()) return listening;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
void HttpServer::Start() { impl_->Start(); }
void HttpServer::Stop(absl::Duration grace) { impl_->Stop(grace); }
uint16_t HttpServer::port() const { return impl_->port(); }
absl::Status HttpServer::ReloadTls(const HttpTlsFiles& files) { return impl_->ReloadTls(files); }

}  // namespace switchboard::ingress
