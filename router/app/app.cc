#include "router/app/app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <boost/json.hpp>
#include <unistd.h>

#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "router/app/fetching_certificate_source.h"
#include "router/app/https_client.h"
#include "router/app/rules_follower.h"
#include "router/app/subscription_confirmer.h"
#include "router/admin/admin_service.h"
#include "router/admin/rules_file_watcher.h"
#include "router/admin/tail_bus.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "router/config/config_loader.h"
#include "router/config/rules_yaml.h"
#include "router/common/cpus.h"
#include "router/common/crypto.h"
#include "router/common/read_file.h"
#include "router/common/status_macros.h"
#include "router/delivery/agent_service.h"
#include "router/delivery/dispatcher.h"
#include "router/ingress/http_server.h"
#include "router/ingress/webhook_handler.h"
#include "router/metrics/registry.h"
#include "router/metrics/store_monitor.h"
#include "router/providers/provider_factory.h"
#include "router/providers/ses_provider.h"
#include "router/routing/rule_set.h"
#include "router/store/embedded_store.h"
#include "router/store/redis_store.h"
#include "router/store/retention_sweeper.h"
#include "spdlog/spdlog.h"

namespace switchboard::app {
namespace {

// gRPC message limits on the agent port; a Delivery carries one event with its raw bytes.
constexpr int kMaxGrpcMessageBytes = 16 << 20;
// How often the retention sweep runs (config `retention`, `delivery.retention`).
constexpr absl::Duration kRetentionSweepInterval = absl::Minutes(1);
// How long startup waits for the stored rules document before serving with the config's rules.
constexpr absl::Duration kStartupRulesTimeout = absl::Seconds(5);
// The stored rules are read again this often when nothing announced a change (a Redis FLUSHALL
// announces nothing), and this soon after a read that failed.
constexpr absl::Duration kRulesRecheck = absl::Seconds(5);
constexpr absl::Duration kRulesRetry = absl::Seconds(1);
// How often queue gauges and the gRPC health status follow the store (metrics::StoreMonitor).
constexpr absl::Duration kStoreMonitorInterval = absl::Seconds(2);

std::vector<std::string> AgentNames(const config::Config& config) {
  std::vector<std::string> names;
  for (const auto& a : config.agents) names.push_back(a.name);
  return names;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view field) {
  absl::StatusOr<std::string> contents = ReadRegularFile(path);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", contents.status().message()));
  }
  if (contents->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path, "\" is empty"));
  }
  return contents;
}

// The certificate chain and key files of `tls` (config `grpc.tls` or `http.tls`, named by
// `field`), read and checked to be a pair: gRPC would report a mismatch only as a failed bind,
// with the reason in its own log lines. A certificate outside its validity period at `now` is
// served all the same (clients decide), with a warning in the log.
absl::StatusOr<grpc::SslServerCredentialsOptions::PemKeyCertPair> ReadTlsPair(
    const config::TlsConfig& tls, absl::string_view field, absl::Time now) {
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.private_key, ReadPem(tls.key_file, absl::StrCat(field, ".key_file")));
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(tls.cert_file, absl::StrCat(field, ".cert_file")));
  absl::StatusOr<crypto::CertificateValidity> validity =
      crypto::CheckKeyMatchesCertificate(pair.cert_chain, pair.private_key);
  if (!validity.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": cert_file \"", tls.cert_file,
                                                   "\", key_file \"", tls.key_file,
                                                   "\": ", validity.status().message()));
  }
  if (now > validity->not_after || now < validity->not_before) {  // both ends inclusive
    spdlog::warn(
        "{{\"event\":\"tls\",\"field\":\"{}\",\"cert_file\":\"{}\",\"certificate\":\"{}\","
        "\"not_before\":\"{}\",\"not_after\":\"{}\"}}",
        std::string(field), tls.cert_file, now > validity->not_after ? "expired" : "not yet valid",
        absl::FormatTime(absl::RFC3339_sec, validity->not_before, absl::UTCTimeZone()),
        absl::FormatTime(absl::RFC3339_sec, validity->not_after, absl::UTCTimeZone()));
  }
  return pair;
}

// grpc.tls: the server certificate and, with client_ca_file, required and verified client
// certificates.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcCredentials(
    const std::optional<config::TlsConfig>& tls, absl::Time now) {
  if (!tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls->client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(grpc::SslServerCredentialsOptions::PemKeyCertPair pair,
                   ReadTlsPair(*tls, "grpc.tls", now));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls->client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs,
                     ReadPem(tls->client_ca_file, "grpc.tls.client_ca_file"));
  }
  return grpc::SslServerCredentials(options);
}

// The outbound side of the providers: SNS certificates over HTTPS (for SES sources without
// pinned_certs) and, when running, subscription confirmations (nullptr: none are made).
struct Outbound {
  std::shared_ptr<const providers::CertificateSource> sns_certificates;
  app::SubscriptionConfirmer* confirmer = nullptr;
};

std::shared_ptr<FetchingCertificateSource> HttpsCertificates(const Clock& clock) {
  return std::make_shared<FetchingCertificateSource>(
      [](std::string_view url) { return HttpsGet(url); },
      [](std::string_view url) { return providers::SesProvider::CheckSigningCertUrl(url); },
      clock);
}

absl::StatusOr<std::shared_ptr<const ingress::HandlerSnapshot>> BuildSnapshot(
    const config::Config& config, const Clock& clock, const Outbound& outbound) {
  auto snapshot = std::make_shared<ingress::HandlerSnapshot>();
  for (size_t i = 0; i < config.sources.size(); ++i) {
    const auto& source = config.sources[i];
    ASSIGN_OR_RETURN(std::unique_ptr<providers::Provider> provider,
                     providers::CreateProvider(source, absl::StrCat("sources[", i, "]"), clock,
                                               config.dedupe.window, outbound.sns_certificates));
    if (outbound.confirmer != nullptr) {
      provider = WithSubscriptionConfirmation(std::move(provider), source.name,
                                              *outbound.confirmer);
    }
    // The config loader checks an explicit tolerance; this also covers a provider's default.
    if (provider->Tolerance() > config.dedupe.window) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sources[", i, "].tolerance: the signed-timestamp window (",
          absl::FormatDuration(provider->Tolerance()), source.tolerance ? "" : ", the default",
          ") exceeds dedupe.window (", absl::FormatDuration(config.dedupe.window),
          "): a captured request could replay as a new event"));
    }
    if (provider->Tolerance() == absl::ZeroDuration() && source.tolerance.has_value()) {
      spdlog::warn(absl::StrCat("{\"event\":\"config\",\"source\":\"", source.name,
                                "\",\"warning\":\"tolerance 0: signed timestamps are not checked\"}"));
    }
    snapshot->sources.emplace(source.name,
                              ingress::SourceEntry{source, std::move(provider)});
  }
  ASSIGN_OR_RETURN(snapshot->rules, routing::RuleSet::Create(config.rules, AgentNames(config)));
  return snapshot;
}

// The settings a reload cannot apply to a running process, each named when `next` differs from
// `running` (config reload: App::Reload).
std::vector<std::string> RestartRequired(const config::Config& running,
                                         const config::Config& next) {
  std::vector<std::string> out;
  auto check = [&out](const char* name, bool same) {
    if (!same) out.emplace_back(name);
  };
  auto same_tls = [](const std::optional<config::TlsConfig>& a,
                     const std::optional<config::TlsConfig>& b) {
    return a.has_value() == b.has_value() &&
           (!a || (a->cert_file == b->cert_file && a->key_file == b->key_file &&
                   a->client_ca_file == b->client_ca_file));
  };
  const config::HttpConfig& h = running.http;
  const config::HttpConfig& nh = next.http;
  check("http.listen", h.listen == nh.listen);
  check("http limits (max_body, max_connections, max_inflight_body, max_header_*, timeouts)",
        h.max_body == nh.max_body && h.max_connections == nh.max_connections &&
            h.max_inflight_body == nh.max_inflight_body &&
            h.max_header_size == nh.max_header_size &&
            h.max_header_count == nh.max_header_count && h.idle_timeout == nh.idle_timeout &&
            h.read_timeout == nh.read_timeout && h.handshake_timeout == nh.handshake_timeout);
  check("http.io_threads", h.io_threads == nh.io_threads);
  check("process.scheduling", running.process.scheduling == next.process.scheduling);
  // The certificate files of http.tls are re-read on reload (App::Reload); turning HTTPS on or
  // off changes what the port speaks.
  check("http.tls (on or off)", h.tls.has_value() == nh.tls.has_value());
  check("grpc.listen", running.grpc.listen == next.grpc.listen);
  check("grpc.tls", same_tls(running.grpc.tls, next.grpc.tls));
  check("store", running.store.kind == next.store.kind && running.store.path == next.store.path &&
                     running.store.sync == next.store.sync && running.store.url == next.store.url &&
                     running.store.password == next.store.password);
  check("dedupe.window", running.dedupe.window == next.dedupe.window);
  check("delivery", running.delivery.ack_deadline == next.delivery.ack_deadline &&
                        running.delivery.max_attempts == next.delivery.max_attempts &&
                        running.delivery.max_in_flight == next.delivery.max_in_flight);
  check("agents (names added or removed)", AgentNames(running) == AgentNames(next));
  auto rule_names = [](const config::Config& c) {
    std::vector<std::string> names;
    for (const auto& r : c.rules) names.push_back(r.name);
    return names;
  };
  check("rules (use the admin API for live rule changes)",
        rule_names(running) == rule_names(next));
  return out;
}

}  // namespace

absl::Status CheckConfig(const config::Config& config, const Clock& clock) {
  // What the loader cannot tell from the files alone: that each key is its certificate's.
  if (config.grpc.tls) {
    RETURN_IF_ERROR(ReadTlsPair(*config.grpc.tls, "grpc.tls", clock.Now()).status());
  }
  if (config.http.tls) {
    RETURN_IF_ERROR(ReadTlsPair(*config.http.tls, "http.tls", clock.Now()).status());
  }
  return BuildSnapshot(config, clock, Outbound{HttpsCertificates(clock), nullptr}).status();
}

class App::Impl {
 public:
  Impl(config::Config config, const Clock& clock) : config_(std::move(config)), clock_(clock) {}

  absl::Status Init() {
    // Before the store opens: a start that fails on its TLS files leaves the store untouched.
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> grpc_credentials,
                     GrpcCredentials(config_.grpc.tls, clock_.Now()));
    if (config_.http.tls) {
      RETURN_IF_ERROR(ReadTlsPair(*config_.http.tls, "http.tls", clock_.Now()).status());
    }
    confirmer_ = std::make_unique<SubscriptionConfirmer>(
        [](std::string_view url) { return HttpsGet(url); },
        [](std::string_view url) { return providers::SesProvider::CheckSubscribeUrl(url); });
    ASSIGN_OR_RETURN(auto snapshot,
                     BuildSnapshot(config_, clock_,
                                   Outbound{HttpsCertificates(clock_), confirmer_.get()}));
    if (config_.store.kind == "redis") {
      store::RedisStore::Options store_options;
      store_options.url = config_.store.url;
      store_options.password = config_.store.password;
      store_options.dedupe_window = config_.dedupe.window;
      store_options.archive_retention = config_.retention.archive;
      ASSIGN_OR_RETURN(store_, store::RedisStore::Create(store_options, clock_));
    } else {
      store::EmbeddedStore::Options store_options;
      store_options.path = config_.store.path;
      store_options.sync = config_.store.sync;
      store_options.dedupe_window = config_.dedupe.window;
      ASSIGN_OR_RETURN(store_, store::EmbeddedStore::Create(store_options, clock_));
    }

    // Retention (docs/operations.md): a sweep a minute deletes what is past config `retention`
    // and moves queue entries past delivery.retention to dead letters ("expired").
    store::RetentionPolicy retention;
    retention.archive = config_.retention.archive;
    retention.quarantine = config_.retention.quarantine;
    retention.dead_letters = config_.retention.dead_letters;
    retention.queue = config_.delivery.retention;
    retention.agents = AgentNames(config_);
    sweeper_ = std::make_unique<store::RetentionSweeper>(*store_, std::move(retention),
                                                         kRetentionSweepInterval);
    sweeper_->Start();
    handler_ = std::make_unique<ingress::WebhookHandler>(std::move(snapshot), *store_, clock_,
                                                         &metrics_);
    handler_->SetCommitListener(&tail_bus_);  // AdminService.Tail
    // Rules stored by an operator (Store::PutRules, shared by every replica) replace the config
    // file's; every replica re-reads them when the store announces a change.
    if (!config_.admin.rules_file.empty()) {
      // GitOps mode: the watched file is the only source of rules; the store's are ignored.
      ASSIGN_OR_RETURN(rules_file_,
                       admin::RulesFileWatcher::Create(
                           config_.admin.rules_file,
                           [this](const std::string& yaml) { return InstallRulesFile(yaml); }));
    } else {
      rules_follower_ = std::make_unique<RulesFollower>(
          *store_,
          [this](const absl::StatusOr<store::RulesDocument>& document) { ApplyRules(document); },
          kRulesRecheck, kRulesRetry);
      store_->SetRulesListener([follower = rules_follower_.get()](int64_t) {
        follower->Request();
      });
      rules_follower_->Request();  // a change announced before the listener was set
      if (!rules_follower_->WaitFirstRead(kStartupRulesTimeout)) {
        spdlog::warn("{{\"event\":\"rules\",\"warning\":\"stored rules not read within {}; the "
                     "config file's rules apply until they are\"}}",
                     absl::FormatDuration(kStartupRulesTimeout));
      }
    }
    ingress::HttpServerOptions http_options;
    http_options.listen = config_.http.listen;
    http_options.io_threads = static_cast<int>(config_.http.io_threads.value_or(UsableCpus()));
    http_io_threads_ = http_options.io_threads;
    http_options.max_body = config_.http.max_body;
    http_options.max_connections = config_.http.max_connections;
    http_options.max_inflight_body = config_.http.max_inflight_body;
    http_options.header_limit = static_cast<uint32_t>(config_.http.max_header_size);
    http_options.max_header_count = config_.http.max_header_count;
    http_options.idle_timeout = config_.http.idle_timeout;
    http_options.read_timeout = config_.http.read_timeout;
    http_options.handshake_timeout = config_.http.handshake_timeout;
    if (config_.http.tls.has_value()) {
      http_options.tls = ingress::HttpTlsFiles{config_.http.tls->cert_file,
                                               config_.http.tls->key_file};
    }
    store::Store* store = store_.get();
    http_options.ready = [store] { return store->Healthy(); };
    http_options.metrics = [this] { return metrics_.Render(); };
    http_options.metrics_registry = &metrics_;
    ASSIGN_OR_RETURN(http_, ingress::HttpServer::Create(http_options, *handler_));

    std::map<std::string, config::DeliveryConfig> per_agent;
    for (const config::AgentConfig& agent : config_.agents) {
      if (agent.delivery.has_value()) per_agent.emplace(agent.name, *agent.delivery);
    }
    dispatcher_ = std::make_unique<delivery::Dispatcher>(*store_, clock_, config_.delivery,
                                                         std::move(per_agent), &metrics_);
    // Streams and unacked deliveries of this router, read at scrape time. /metrics is served by
    // http_, which stops before dispatcher_ goes (Shutdown).
    metrics::GaugeFamily& instances = metrics_.AddGauge(
        "switchboard_agent_instances", "Agent streams connected to this router.", {"agent"});
    metrics::GaugeFamily& in_flight = metrics_.AddGauge(
        "switchboard_agent_in_flight",
        "Deliveries handed to this router's streams of the agent and not yet settled.", {"agent"});
    for (const std::string& name : AgentNames(config_)) {
      instances.WithLabels({name});
      in_flight.WithLabels({name});
    }
    metrics_.AddCollector([dispatcher = dispatcher_.get(), &instances, &in_flight] {
      for (const auto& [agent, activity] : dispatcher->Activity()) {
        instances.WithLabels({agent}).Set(static_cast<double>(activity.instances));
        in_flight.WithLabels({agent}).Set(static_cast<double>(activity.in_flight));
      }
    });
    delivery::AgentServiceOptions agent_options;
    agent_options.delivery = config_.delivery;
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    agent_options.server_id = absl::StrCat(host, ":", getpid());
    agent_service_ = std::make_unique<delivery::AgentServiceImpl>(*dispatcher_, config_.agents,
                                                                  agent_options);
    // grpc.health.v1.Health (NOT_SERVING while the store is unhealthy and from shutdown on) and
    // server reflection (grpcurl), both process-wide switches read by the next builder.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(config_.grpc.listen, grpc_credentials, &grpc_port_);
    builder.RegisterService(agent_service_.get());
    admin::AdminServiceOptions admin_options;
    admin_options.tokens = config_.admin.tokens;
    admin_options.agents = AgentNames(config_);
    admin_options.config_rules_yaml = config::RulesToYaml(config_.rules);
    admin_options.rules_in_use = [this] { return handler_->snapshot()->rules; };
    // ExplainRoute decodes with the source's provider, never through the SNS confirmation hook.
    admin_options.provider =
        [this](const std::string& source) -> std::shared_ptr<const providers::Provider> {
      std::shared_ptr<const ingress::HandlerSnapshot> current = handler_->snapshot();
      auto it = current->sources.find(source);
      if (it == current->sources.end()) return nullptr;
      return std::shared_ptr<const providers::Provider>(
          it->second.provider, &WithoutSubscriptionConfirmation(*it->second.provider));
    };
    admin_options.source_config =
        [this](const std::string& source) -> std::optional<config::SourceConfig> {
      std::shared_ptr<const ingress::HandlerSnapshot> current = handler_->snapshot();
      auto it = current->sources.find(source);
      if (it == current->sources.end()) return std::nullopt;
      return it->second.config;
    };
    admin_options.dispatcher = dispatcher_.get();
    admin_options.tail = &tail_bus_;
    admin_service_ = std::make_unique<admin::AdminServiceImpl>(std::move(admin_options), *store_,
                                                               clock_, rules_file_.get());
    builder.RegisterService(admin_service_.get());
    builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
    builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
    grpc_ = builder.BuildAndStart();
    if (grpc_ == nullptr || grpc_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("grpc.listen: cannot bind ", config_.grpc.listen));
    }
    grpc::HealthCheckServiceInterface* health = grpc_->GetHealthCheckService();
    health->SetServingStatus(store_->Healthy());
    store_monitor_ = std::make_unique<metrics::StoreMonitor>(
        *store_, clock_, metrics_, AgentNames(config_), kStoreMonitorInterval,
        [health](bool healthy) { health->SetServingStatus(healthy); });
    return absl::OkStatus();
  }

  void Start() { http_->Start(); }

  absl::Status Reload(config::Config next) {
    const std::vector<std::string> restart = RestartRequired(config_, next);
    // Validate against what runs: the dedupe window bounds the sources' tolerance.
    next.dedupe = config_.dedupe;
    absl::StatusOr<std::shared_ptr<const ingress::HandlerSnapshot>> built =
        BuildSnapshot(next, clock_, Outbound{HttpsCertificates(clock_), confirmer_.get()});
    // HTTPS: the certificate files are read again (a renewed certificate, or new paths) and
    // serve the connections accepted from now on. The last step that can refuse the file.
    absl::Status refused = built.status();
    if (refused.ok() && config_.http.tls.has_value() && next.http.tls.has_value()) {
      // As at start: the pair's reason, and a warning for a certificate out of its period.
      refused = ReadTlsPair(*next.http.tls, "http.tls", clock_.Now()).status();
      if (refused.ok()) {
        refused = http_->ReloadTls({next.http.tls->cert_file, next.http.tls->key_file});
      }
    }
    if (!refused.ok()) {
      spdlog::error(absl::StrCat(
          "{\"event\":\"reload\",\"result\":\"refused\",\"error\":",
          boost::json::serialize(boost::json::string(std::string(refused.message()))),
          ",\"note\":\"the running config stays\"}"));
      return refused;
    }
    // The rules in use stay (stored rules, or the config's from startup): see Reload's contract.
    {
      absl::MutexLock lock(&snapshot_mu_);  // a rules change meanwhile must not be undone
      auto snapshot = std::make_shared<ingress::HandlerSnapshot>(**built);
      snapshot->rules = handler_->snapshot()->rules;
      handler_->SetSnapshot(std::move(snapshot));
    }
    // Tokens rotate for the agents that run; agents added or removed wait for a restart, since
    // the stored rules are checked against the startup agent names.
    std::vector<config::AgentConfig> agents = config_.agents;
    for (config::AgentConfig& agent : agents) {
      if (const config::AgentConfig* updated = next.FindAgent(agent.name)) {
        agent.tokens = updated->tokens;
      }
    }
    agent_service_->SetAgents(agents);
    // Admin tokens rotate too: the next admin rpc is checked against the new set.
    admin_service_->SetTokens(next.admin.tokens);
    boost::json::array pending;
    for (const std::string& name : restart) pending.emplace_back(name);
    spdlog::info(absl::StrCat("{\"event\":\"reload\",\"result\":\"applied\",\"sources\":",
                              next.sources.size(), ",\"agents\":", agents.size(),
                              ",\"restart_required\":", boost::json::serialize(pending), "}"));
    return absl::OkStatus();
  }

  // Also what ~Impl runs when Init failed part way (a port in use, a store that cannot open):
  // every step skips what Init did not get to build.
  void Shutdown(absl::Duration grace) {
    if (stopped_) return;
    stopped_ = true;
    if (rules_follower_ != nullptr) rules_follower_->Stop();  // its reads use the store
    // Health checkers see NOT_SERVING from now on (Shutdown ignores later status updates).
    store_monitor_.reset();
    if (grpc_ != nullptr) grpc_->GetHealthCheckService()->Shutdown();
    // Ingress first: stop accepting, let in-flight requests get their commit answered.
    if (http_ != nullptr) http_->Stop(grace);
    // Then agent streams: UNAVAILABLE makes SDKs reconnect (elsewhere, or here after a restart).
    if (agent_service_ != nullptr) agent_service_->Shutdown();
    if (admin_service_ != nullptr) admin_service_->Shutdown();  // open Tails end now
    if (grpc_ != nullptr) {
      grpc_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      grpc_->Wait();
    }
    dispatcher_.reset();  // returns claimed-but-unsent deliveries to the store
    sweeper_.reset();     // before the store it sweeps
  }

  ~Impl() {
    Shutdown(absl::ZeroDuration());
    rules_file_.reset();  // its thread swaps the handler's rules
    // The store answers every pending operation before it closes; only then can the handler and
    // the agent service go.
    store_.reset();
    agent_service_.reset();
    http_.reset();
    handler_.reset();
  }

  int http_port() const { return http_->port(); }
  int http_io_threads() const { return http_io_threads_; }
  int grpc_port() const { return grpc_port_; }

 private:
  // Swaps `rules` into the handler's snapshot; the rest of the snapshot stays as it is.
  void SetRules(std::shared_ptr<const routing::RuleSet> rules) {
    absl::MutexLock lock(&snapshot_mu_);  // against Reload's swap of the rest
    auto snapshot = std::make_shared<ingress::HandlerSnapshot>(*handler_->snapshot());
    snapshot->rules = std::move(rules);
    handler_->SetSnapshot(std::move(snapshot));
  }

  // GitOps mode: validates the watched file's rules document and swaps it into the handler.
  // kInvalidArgument naming the field; the running rules stay.
  absl::Status InstallRulesFile(const std::string& yaml) {
    ASSIGN_OR_RETURN(std::vector<config::RuleConfig> rules,
                     config::ParseRulesYaml(yaml, AgentNames(config_)));
    ASSIGN_OR_RETURN(std::shared_ptr<const routing::RuleSet> rule_set,
                     routing::RuleSet::Create(rules, AgentNames(config_)));
    SetRules(std::move(rule_set));
    spdlog::info("{{\"event\":\"rules\",\"origin\":\"{}\",\"rules\":{}}}",
                 config_.admin.rules_file, rules.size());
    return absl::OkStatus();
  }

  // Makes the store's rules document the one in use whenever it differs from it. The store is the
  // truth, so that every replica routes by what `rules get` shows: a document at a LOWER version
  // applies too (a Redis restored from a backup, or restarted empty: its versions start again at
  // 1), and no document at all (version 0) brings back the config file's rules. Called by the
  // RulesFollower's thread, one read at a time and in order, so the last read is the newest.
  void ApplyRules(const absl::StatusOr<store::RulesDocument>& document) {
    absl::MutexLock lock(&rules_mu_);
    if (!document.ok()) {
      // Said once per outage; the reads go on (RulesFollower).
      if (!rules_read_failing_) {
        spdlog::error("{{\"event\":\"rules\",\"error\":\"cannot read the stored rules, the "
                      "running rules stay until a read succeeds: {}\"}}",
                      document.status().ToString());
      }
      rules_read_failing_ = true;
      return;
    }
    if (rules_read_failing_) {
      spdlog::info("{{\"event\":\"rules\",\"note\":\"the stored rules are read again\"}}");
      rules_read_failing_ = false;
    }
    const auto same = [](const store::RulesDocument& a, const store::RulesDocument& b) {
      return a.version == b.version && a.yaml == b.yaml;
    };
    if (same(*document, rules_in_use_) || (rules_refused_ && same(*document, *rules_refused_))) {
      return;
    }
    const int64_t previous = rules_in_use_.version;
    absl::StatusOr<std::vector<config::RuleConfig>> rules =
        document->version == 0 ? absl::StatusOr<std::vector<config::RuleConfig>>(config_.rules)
                               : config::ParseRulesYaml(document->yaml, AgentNames(config_));
    absl::StatusOr<std::shared_ptr<const routing::RuleSet>> rule_set =
        rules.ok() ? routing::RuleSet::Create(*rules, AgentNames(config_))
                   : absl::StatusOr<std::shared_ptr<const routing::RuleSet>>(rules.status());
    if (!rule_set.ok()) {
      spdlog::error(
          "{{\"event\":\"rules\",\"version\":{},\"error\":\"stored rules refused, the running "
          "rules stay: {}\"}}",
          document->version, rule_set.status().ToString());
      rules_refused_ = *document;  // not parsed, nor logged, again until it changes
      return;
    }
    rules_in_use_ = *document;
    SetRules(*std::move(rule_set));
    if (document->version == 0) {
      spdlog::warn("{{\"event\":\"rules\",\"version\":0,\"origin\":\"config\",\"rules\":{},"
                   "\"warning\":\"the store holds no rules document any more (version {} was in "
                   "use): the config file's rules apply\"}}",
                   rules->size(), previous);
    } else if (document->version < previous) {
      spdlog::warn("{{\"event\":\"rules\",\"version\":{},\"rules\":{},\"warning\":\"the stored "
                   "version went back from {} (a store restored or emptied): the store's document "
                   "applies\"}}",
                   document->version, rules->size(), previous);
    } else if (document->version == previous) {
      spdlog::warn("{{\"event\":\"rules\",\"version\":{},\"rules\":{},\"warning\":\"the stored "
                   "document changed without a new version (a store restored or emptied): the "
                   "store's document applies\"}}",
                   document->version, rules->size());
    } else {
      spdlog::info("{{\"event\":\"rules\",\"version\":{},\"rules\":{}}}", document->version,
                   rules->size());
    }
  }

  config::Config config_;
  const Clock& clock_;
  metrics::Registry metrics_;  // first: every module below registers its series here
  // Before handler_: the handler reports commits to it (Tail), until its last commit callback.
  admin::TailBus tail_bus_;
  // Before handler_: the providers' confirmation hook points at it.
  std::unique_ptr<SubscriptionConfirmer> confirmer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::RetentionSweeper> sweeper_;  // reset in Shutdown, before store_
  std::unique_ptr<ingress::WebhookHandler> handler_;
  std::unique_ptr<ingress::HttpServer> http_;
  int http_io_threads_ = 0;
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  std::unique_ptr<delivery::AgentServiceImpl> agent_service_;
  std::unique_ptr<admin::RulesFileWatcher> rules_file_;  // GitOps mode only
  // Stored rules mode only. Stopped in Shutdown, destroyed after the store (whose rules listener
  // points at it).
  std::unique_ptr<RulesFollower> rules_follower_;
  std::unique_ptr<admin::AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<metrics::StoreMonitor> store_monitor_;  // after grpc_: it sets grpc_'s health
  int grpc_port_ = 0;
  bool stopped_ = false;
  absl::Mutex rules_mu_;
  // The stored rules document in use; version 0 (empty yaml): the config file's rules.
  store::RulesDocument rules_in_use_ ABSL_GUARDED_BY(rules_mu_);
  bool rules_read_failing_ ABSL_GUARDED_BY(rules_mu_) = false;  // said in the log
  // The last stored document refused (it names an agent this router does not have, say).
  std::optional<store::RulesDocument> rules_refused_ ABSL_GUARDED_BY(rules_mu_);
  // Held while the handler's snapshot is copied, changed and swapped back (Reload changes the
  // sources, the rules follower or the GitOps watcher the rules), so neither undoes the other.
  absl::Mutex snapshot_mu_;
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::~App() = default;

absl::StatusOr<std::unique_ptr<App>> App::Create(config::Config config, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<App>(new App(std::move(impl)));
}

absl::Status App::Start() {
  impl_->Start();
  return absl::OkStatus();
}

void App::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
absl::Status App::Reload(config::Config config) { return impl_->Reload(std::move(config)); }
int App::http_port() const { return impl_->http_port(); }
int App::http_io_threads() const { return impl_->http_io_threads(); }
int App::grpc_port() const { return impl_->grpc_port(); }

}  // namespace switchboard::app
