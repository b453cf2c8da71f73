#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace switchboard::config {

// Plain option structs, one per module, with the defaults of the documented config file
// (README "Configuration"). Only config_loader.cc reads YAML or the environment.

// A server certificate (PEM files, resolved against the config's folder) for grpc.tls and
// http.tls. Set: the port speaks TLS only.
struct TlsConfig {
  std::string cert_file;       // the certificate chain, leaf first
  std::string key_file;        // its private key
  std::string client_ca_file;  // grpc.tls only: clients must present a certificate it signed
};

// The ingress limits are documented in router/ingress/http_server.h ("Limits").
struct HttpConfig {
  std::string listen = "0.0.0.0:8080";  // host:port; port 0 picks a free port
  uint64_t max_body = 10ull << 20;      // bytes; larger bodies get 413 before they are read
  uint32_t max_connections = 1024;      // open connections; over it a new one is closed at once
  uint64_t max_inflight_body = 256ull << 20;  // body bytes held by requests in flight; over: 503
  uint64_t max_header_size = 16 << 10;  // bytes of request line + headers; over: 431
  uint32_t max_header_count = 100;      // header fields; over: 431
  absl::Duration idle_timeout = absl::Seconds(60);  // to receive a whole request header
  absl::Duration read_timeout = absl::Seconds(30);  // to receive a body, and to write an answer
  std::optional<TlsConfig> tls;                      // set: HTTPS only (TLS 1.2 and later)
  absl::Duration handshake_timeout = absl::Seconds(10);  // https: to complete the TLS handshake
  // Threads that serve HTTP (1 to 256). Unset: one per CPU the process can use (UsableCpus in
  // router/common/cpus.h: its affinity mask and cgroup CPU quota), not one per CPU of the machine.
  std::optional<uint32_t> io_threads;
};

struct GrpcConfig {
  std::string listen = "0.0.0.0:50051";
  std::optional<TlsConfig> tls;
};

struct StoreConfig {
  std::string kind = "embedded";  // embedded | redis
  std::string path = "./data/switchboard.db";  // embedded: resolved against the config's folder
  std::string sync = "full";      // embedded: full | normal (SQLite PRAGMA synchronous)
  std::string url;                // redis: redis://[:password@]host:port/db (secret: url_env/_file)
  std::string password;           // redis: overrides the URL's password (secret: password_env/_file)
};

// How the kernel schedules the router's threads (sched(7)).
struct ProcessConfig {
  // batch: SCHED_BATCH, so a woken thread does not preempt the running one; the router's threads
  // hand work to each other (ingress -> store writer -> dispatcher) and then take turns once per
  // batch, not once per item. normal: SCHED_OTHER. The store's checkpointer thread is in the idle
  // class either way, where the kernel allows it (EmbeddedStore).
  std::string scheduling = "batch";
};

struct DedupeConfig {
  absl::Duration window = absl::Hours(72);
};

// The wait before a delivery is offered again after a Nack without retry_after: exponential with
// full jitter, uniform in [0, min(max, initial * multiplier^(attempt-1))] (delivery/backoff.h).
struct BackoffConfig {
  absl::Duration initial = absl::Seconds(1);
  absl::Duration max = absl::Minutes(5);
  double multiplier = 2.0;  // >= 1
};

struct DeliveryConfig {
  absl::Duration ack_deadline = absl::Seconds(30);  // the lease of one delivery
  uint32_t max_attempts = 10;                        // then dead letters
  uint32_t max_in_flight = 64;                       // default and cap per stream
  BackoffConfig backoff;
  // `delivery.retention` (top level only): a queue entry never acked this long after it was
  // enqueued moves to its agent's dead letters with reason "expired" (a queue's bound).
  absl::Duration retention = absl::Hours(24 * 7);
};

// `retention`: how long the archive, quarantine and dead letters are kept (a sweep every minute
// deletes what is older; docs/operations.md).
struct RetentionConfig {
  absl::Duration archive = absl::Hours(24 * 30);
  absl::Duration quarantine = absl::Hours(24 * 30);
  absl::Duration dead_letters = absl::Hours(24 * 30);
};

struct AdminToken {
  std::string name;
  std::string token;  // secret
};

struct AdminConfig {
  std::vector<AdminToken> tokens;
  // GitOps mode: the routing rules come from this rules document file (resolved against the
  // config's folder), re-read when it changes; the admin API refuses rule writes. "" = off.
  std::string rules_file;
};

struct BasicAuth {
  std::string username;
  std::string password;  // secret
};

struct HeaderAuth {
  std::string name;
  std::string value;  // secret
};

// One configured webhook source: POST /v1/webhooks/{name}.
struct SourceConfig {
  std::string name;      // [a-z0-9-]+
  std::string provider;  // a provider kind id: standard-webhooks, sendgrid, ...
  std::string vendor;    // standard-webhooks: resend | agentmail | "" (generic)
  std::vector<std::string> secrets;  // standard-webhooks: "whsec_<base64>" or bare base64 (secret)
  std::string public_key;            // sendgrid: base64 DER or PEM (ECDSA P-256)
  // Signed-timestamp tolerance, both directions. nullopt = the provider's default; zero disables
  // the window (a startup warning). Must not exceed the dedupe window.
  std::optional<absl::Duration> tolerance;
  // bytes; overrides http.max_body for this source. sendgrid-inbound defaults to 30 MiB.
  std::optional<uint64_t> max_body;
  // Inbound mail (sendgrid-inbound, mailgun inbound routes): attachments of at most this many
  // bytes travel inside the event (Inbound.Attachment.content); larger ones are kept in the store
  // and fetched with AdminService.GetAttachment.
  uint64_t inline_attachments_max = 64ull << 10;
  // Every provider: an event whose raw bytes (EmailEvent.raw) are longer than this many bytes
  // carries none; they are kept in the store (raw_stored, raw_sha256, raw_size) and fetched with
  // AdminService.GetAttachment. Keeps an inbound mail's event under the gRPC message limit.
  uint64_t inline_raw_max = 1ull << 20;
  std::optional<BasicAuth> basic_auth;
  std::string bearer_token;  // secret
  std::optional<HeaderAuth> header;

  // mailgun, customerio: the webhook signing key; the HMAC key is its ASCII bytes (secret).
  std::string signing_key;

  // ses (Amazon SES via SNS).
  std::vector<std::string> topic_arns;       // required: only these TopicArns are accepted
  std::vector<int> signature_versions;       // SNS SignatureVersion allowed; empty = {1, 2}
  std::optional<absl::Duration> max_age;     // SNS message age limit; nullopt = 1h, zero disables
  bool auto_confirm = false;                 // confirm SubscriptionConfirmation messages
  // SigningCertURL -> PEM file (resolved against the config's folder): certificates pinned for
  // air-gapped installs and tests instead of being fetched.
  std::map<std::string, std::string> pinned_certs;

  // generic-hmac (issue 3 "Generic HMAC profile").
  struct GenericHmac {
    std::string secret;              // HMAC key as raw bytes (secret)
    std::string signature_header;    // `header: X-Signature` (the string form of `header`)
    std::string algorithm = "sha256";  // sha1 | sha256 | sha512
    std::string encoding = "hex";      // hex | base64
    std::string prefix;                // e.g. "sha256=", stripped from the header value
    std::string signed_template = "{body}";  // `signed`: {body}, {timestamp}.{body}, ...
    std::string timestamp_header;    // Unix seconds header, inside the tolerance window
    std::string id_header;           // the header {id} reads from
    std::map<std::string, std::string> mapping;  // field -> JSON Pointer
    std::map<std::string, std::string> types;    // provider type -> lowercase event type
  };
  std::optional<GenericHmac> generic_hmac;  // set iff provider == "generic-hmac"

  // mandrill: the webhook key Mandrill shows (secret) and the webhook URL exactly as entered in
  // Mandrill, which its signature covers.
  std::string key;
  std::string url;
};

struct AgentConfig {
  std::string name;
  std::vector<std::string> tokens;  // secrets; several allowed for rotation
  // This agent's ack_deadline, max_attempts, max_in_flight and backoff when any is set in its
  // entry: delivery.* with the agent's fields over it. nullopt: delivery.* as is.
  std::optional<DeliveryConfig> delivery;
};

// Routing rules (README "Routing rules"; routing::RuleSet validates and compiles them). A match
// is the conjunction of every predicate set in it; an empty match matches every event.

// How a recipient predicate compares the local part: as sent (sensitive) or ASCII
// case-insensitively. kInherit takes the enclosing match's (or rule's) mode; the default is
// sensitive. YAML `case: sensitive | insensitive`.
enum class LocalPartCase { kInherit, kSensitive, kInsensitive };

// One metadata key's condition. YAML: a string (equals) or a mapping with exactly one of
// `equals: V`, `in: [V, ...]`, `prefix: P`, `exists: true|false`.
struct MetadataMatchConfig {
  enum class Op { kEquals, kIn, kPrefix, kExists };
  Op op = Op::kEquals;
  std::vector<std::string> values;  // kEquals, kPrefix: exactly one; kIn: at least one
  bool exists = true;               // kExists: the key must be present (true) or absent (false)

  bool operator==(const MetadataMatchConfig&) const = default;
};

struct MatchConfig {
  // Lists are "any of". recipient: exact, "*@domain", glob ('*' never crosses '@'), plus-tag
  // aware "billing+*@example.com" (a YAML string or list).
  std::vector<std::string> recipient;
  std::vector<std::string> recipient_regex;  // RE2, full match against local@punycode-domain
  std::vector<std::string> types;      // lowercase event type suffixes: "bounced", "complained"
  std::vector<std::string> providers;  // EmailEvent.provider: "sendgrid", "resend", ...
  std::vector<std::string> sources;    // configured source names
  std::vector<std::string> tags;       // the event carries at least one of them
  std::map<std::string, MetadataMatchConfig> metadata;  // every key's condition holds
  std::vector<MatchConfig> all;        // every one holds; YAML refuses an empty list
  std::vector<MatchConfig> any;        // at least one holds; YAML refuses an empty list
  std::vector<MatchConfig> negated;    // YAML `not`: 0 or 1 element, which must not hold
  LocalPartCase local_part_case = LocalPartCase::kInherit;  // YAML `case`

  bool operator==(const MatchConfig&) const = default;
};

struct RuleConfig {
  std::string name;                 // unique in the set
  MatchConfig match;
  std::vector<std::string> agents;  // declared agent names
  int32_t priority = 0;             // higher first; ties in file order
  bool stop = false;                // when it matches, no later rule is evaluated
  LocalPartCase local_part_case = LocalPartCase::kInherit;  // YAML `case`: the match's default

  bool operator==(const RuleConfig&) const = default;
};

struct Config {
  std::string path;  // the file this was loaded from ("" if from a string)
  HttpConfig http;
  GrpcConfig grpc;
  StoreConfig store;
  DedupeConfig dedupe;
  DeliveryConfig delivery;
  RetentionConfig retention;
  AdminConfig admin;
  ProcessConfig process;
  std::vector<SourceConfig> sources;
  std::vector<AgentConfig> agents;
  std::vector<RuleConfig> rules;

  const SourceConfig* FindSource(std::string_view name) const {
    for (const auto& s : sources) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  // The delivery settings of agent `name` (delivery.* unless the agent overrides them).
  const DeliveryConfig& DeliveryFor(std::string_view name) const {
    for (const auto& a : agents) {
      if (a.name == name && a.delivery.has_value()) return *a.delivery;
    }
    return delivery;
  }
  const AgentConfig* FindAgent(std::string_view name) const {
    for (const auto& a : agents) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }
};

}  // namespace switchboard::config
