#include "router/providers/ses_provider.h"

#include <utility>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/lossless_json.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A string member, or nullopt when absent, null or not a string.
std::optional<std::string_view> Str(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string().data(), v->get_string().size());
}

std::string_view StrOr(const json::object& object, std::string_view key) {
  return Str(object, key).value_or(std::string_view());
}

// SNS over HTTP spells SigningCertURL / SubscribeURL; the Lambda event shape spells ...Url.
absl::StatusOr<std::optional<std::string_view>> UrlField(const json::object& object,
                                                         std::string_view http_key,
                                                         std::string_view lambda_key) {
  auto http = Str(object, http_key);
  auto lambda = Str(object, lambda_key);
  if (http && lambda) {
    return absl::UnauthenticatedError(
        absl::StrCat("SNS message carries both ", std::string(http_key), " and ",
                     std::string(lambda_key)));
  }
  return http ? http : lambda;
}

absl::StatusOr<json::object> ParseEnvelope(std::string_view body) {
  ASSIGN_OR_RETURN(json::value value, ParseJsonLossless(body));
  if (!value.is_object()) return absl::InvalidArgumentError("ses: the body is not an SNS message");
  return std::move(value.get_object());
}

absl::StatusOr<std::string> CanonicalString(const json::object& message) {
  const std::string_view type = StrOr(message, "Type");
  std::vector<std::string_view> keys;
  if (type == "Notification") {
    keys = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"};
  } else if (type == "SubscriptionConfirmation" || type == "UnsubscribeConfirmation") {
    keys = {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
  } else {
    return absl::UnauthenticatedError(
        absl::StrCat("not a signed SNS message Type: \"", std::string(type.substr(0, 40)), "\""));
  }
  std::string out;
  for (std::string_view key : keys) {
    std::optional<std::string_view> value;
    if (key == "SubscribeURL") {
      ASSIGN_OR_RETURN(value, UrlField(message, "SubscribeURL", "SubscribeUrl"));
    } else {
      value = Str(message, key);
    }
    if (!value) {
      if (key == "Subject") continue;  // optional; null counts as absent
      return absl::UnauthenticatedError(
          absl::StrCat("SNS message without a string \"", std::string(key), "\""));
    }
    absl::StrAppend(&out, AbslView(key), "\n", AbslView(*value), "\n");
  }
  return out;
}

bool IsSnsHost(std::string_view host) {
  // sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn; region = [a-z0-9-]+.
  absl::string_view h = AbslView(host);
  if (!absl::ConsumePrefix(&h, "sns.")) return false;
  if (!absl::ConsumeSuffix(&h, ".amazonaws.com") && !absl::ConsumeSuffix(&h, ".amazonaws.com.cn")) {
    return false;
  }
  if (h.empty()) return false;
  for (char c : h) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

// The checks both allowlisted URL kinds share: https, no user-info, no explicit port, an SNS host.
absl::StatusOr<boost::urls::url_view> ParseSnsUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) return absl::UnauthenticatedError("SNS URL: not an absolute URI");
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "https") return absl::UnauthenticatedError("SNS URL: not https");
  if (u.has_userinfo()) return absl::UnauthenticatedError("SNS URL: carries user-info");
  if (u.has_port()) return absl::UnauthenticatedError("SNS URL: names a port");
  if (u.host_type() != boost::urls::host_type::name ||
      !IsSnsHost(std::string_view(u.encoded_host().data(), u.encoded_host().size()))) {
    return absl::UnauthenticatedError("SNS URL: host is not sns.<region>.amazonaws.com[.cn]");
  }
  if (u.has_fragment()) return absl::UnauthenticatedError("SNS URL: has a fragment");
  return u;
}

v1::EventType SesType(std::string_view name, const json::object& record) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"Send", v1::EVENT_TYPE_SENT},
      {"Delivery", v1::EVENT_TYPE_DELIVERED},
      {"DeliveryDelay", v1::EVENT_TYPE_DEFERRED},
      {"Bounce", v1::EVENT_TYPE_BOUNCED},
      {"Complaint", v1::EVENT_TYPE_COMPLAINED},
      {"Reject", v1::EVENT_TYPE_DROPPED},
      {"Rendering Failure", v1::EVENT_TYPE_DROPPED},
      {"Open", v1::EVENT_TYPE_OPENED},
      {"Click", v1::EVENT_TYPE_CLICKED},
      {"Received", v1::EVENT_TYPE_RECEIVED},
  };
  for (const auto& [n, type] : kTypes) {
    if (n == name) return type;
  }
  if (name == "Subscription") {
    const json::object* subscription = JsonObject(record, "subscription");
    const json::object* prefs =
        subscription == nullptr ? nullptr : JsonObject(*subscription, "newTopicPreferences");
    const json::value* all = prefs == nullptr ? nullptr : prefs->if_contains("unsubscribeAll");
    if (all != nullptr && all->is_bool() && all->get_bool()) return v1::EVENT_TYPE_UNSUBSCRIBED;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

// The object carrying the record's details, by type ("Bounce" -> "bounce", "DeliveryDelay" ->
// "deliveryDelay", "Rendering Failure" -> "failure").
const json::object* Detail(const json::object& record, std::string_view type) {
  if (type == "Rendering Failure") return JsonObject(record, "failure");
  if (type == "Received") return JsonObject(record, "receipt");
  if (type.empty()) return nullptr;
  std::string key(type);
  key[0] = absl::ascii_tolower(static_cast<unsigned char>(key[0]));
  return JsonObject(record, key);
}

// Addresses of an array of strings or of {"emailAddress": ...} objects.
std::vector<std::pair<std::string, const json::object*>> Recipients(const json::array* array) {
  std::vector<std::pair<std::string, const json::object*>> out;
  if (array == nullptr) return out;
  for (const json::value& v : *array) {
    if (const json::string* s = v.if_string()) {
      out.emplace_back(std::string(s->data(), s->size()), nullptr);
    } else if (const json::object* o = v.if_object()) {
      if (auto address = Str(*o, "emailAddress")) out.emplace_back(std::string(*address), o);
    }
  }
  return out;
}

// "smtp; 550 5.1.1 user unknown" -> "550".
std::string SmtpCode(std::string_view diagnostic) {
  absl::string_view d = absl::StripLeadingAsciiWhitespace(AbslView(diagnostic));
  if (absl::StartsWithIgnoreCase(d, "smtp;")) d.remove_prefix(5);
  d = absl::StripLeadingAsciiWhitespace(d);
  if (d.size() >= 3 && (d[0] == '2' || d[0] == '4' || d[0] == '5') && absl::ascii_isdigit(d[1]) &&
      absl::ascii_isdigit(d[2]) && (d.size() == 3 || !absl::ascii_isdigit(d[3]))) {
    return std::string(d.substr(0, 3));
  }
  return "";
}

v1::BounceClass BounceClassOf(std::string_view bounce_type) {
  if (bounce_type == "Permanent") return v1::BOUNCE_CLASS_HARD;
  if (bounce_type == "Transient") return v1::BOUNCE_CLASS_SOFT;
  return v1::BOUNCE_CLASS_UNDETERMINED;
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AbslView(s)); }

std::string FirstAddressText(const json::object* headers, std::string_view key) {
  if (headers == nullptr) return "";
  const json::array* list = JsonArray(*headers, key);
  if (list == nullptr || list->empty() || !(*list)[0].is_string()) return "";
  return std::string((*list)[0].get_string());
}

absl::StatusOr<DecodeResult> DecodeRecord(const json::object& record, const v1::EmailEvent& base,
                                          std::string_view sns_timestamp) {
  DecodeResult result;
  std::string_view type = StrOr(record, "eventType");
  if (type.empty()) type = StrOr(record, "notificationType");
  if (type.empty()) {
    return absl::InvalidArgumentError("ses: Message has neither eventType nor notificationType");
  }
  if (type == "AmazonSnsSubscriptionSucceeded") {
    result.control = "ses-subscription-succeeded";
    return result;
  }
  v1::EmailEvent event = base;
  event.set_provider_event_type(std::string(type));
  event.set_type(SesType(type, record));
  const json::object* mail = JsonObject(record, "mail");
  const json::object* detail = Detail(record, type);
  const json::object* common = mail == nullptr ? nullptr : JsonObject(*mail, "commonHeaders");

  std::string_view when = detail == nullptr ? "" : StrOr(*detail, "timestamp");
  if (when.empty() && mail != nullptr) when = StrOr(*mail, "timestamp");
  if (when.empty()) when = sns_timestamp;
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseRfc3339(when));

  if (mail != nullptr) {
    event.set_message_id(std::string(StrOr(*mail, "messageId")));
    // mail.source may be a name-addr ("Sender Name <sender@example.com>").
    const std::string_view source = StrOr(*mail, "source");
    auto bare = NormalizeAddress(source);
    event.set_sender(bare.ok() ? bare->recipient : std::string(source));
    if (const json::object* tags = JsonObject(*mail, "tags")) {
      for (const auto& tag : *tags) {
        const std::string name(tag.key());
        const json::array* values = tag.value().if_array();
        if (values == nullptr) continue;
        for (const json::value& v : *values) {
          if (!v.is_string()) continue;
          event.add_tags(absl::StrCat(name, ":", std::string(v.get_string())));
          if (!absl::StartsWith(name, "ses:") && !event.metadata().contains(name)) {
            (*event.mutable_metadata())[name] = std::string(v.get_string());
          }
        }
      }
    }
  }
  if (common != nullptr) event.set_subject(std::string(StrOr(*common, "subject")));

  std::vector<std::pair<std::string, const json::object*>> recipients;
  switch (event.type()) {
    case v1::EVENT_TYPE_BOUNCED:
      if (detail != nullptr) recipients = Recipients(JsonArray(*detail, "bouncedRecipients"));
      break;
    case v1::EVENT_TYPE_COMPLAINED:
      if (detail != nullptr) recipients = Recipients(JsonArray(*detail, "complainedRecipients"));
      break;
    case v1::EVENT_TYPE_DELIVERED:
      if (detail != nullptr) recipients = Recipients(JsonArray(*detail, "recipients"));
      break;
    case v1::EVENT_TYPE_DEFERRED:
      if (detail != nullptr) recipients = Recipients(JsonArray(*detail, "delayedRecipients"));
      break;
    case v1::EVENT_TYPE_RECEIVED:
      if (detail != nullptr) recipients = Recipients(JsonArray(*detail, "recipients"));
      break;
    default:
      break;
  }
  if (recipients.empty() && mail != nullptr) recipients = Recipients(JsonArray(*mail, "destination"));

  if (detail != nullptr) {
    switch (event.type()) {
      case v1::EVENT_TYPE_BOUNCED: {
        const std::string_view bounce_type = StrOr(*detail, "bounceType");
        v1::Bounce* bounce = event.mutable_bounce();
        bounce->set_bounce_class(BounceClassOf(bounce_type));
        bounce->set_provider_type(
            absl::StrCat(AbslView(bounce_type), "/", AbslView(StrOr(*detail, "bounceSubType"))));
        break;
      }
      case v1::EVENT_TYPE_OPENED:
      case v1::EVENT_TYPE_CLICKED:
        event.set_ip(std::string(StrOr(*detail, "ipAddress")));
        event.set_user_agent(std::string(StrOr(*detail, "userAgent")));
        if (event.type() == v1::EVENT_TYPE_CLICKED) {
          event.mutable_click()->set_url(std::string(StrOr(*detail, "link")));
        }
        break;
      case v1::EVENT_TYPE_COMPLAINED:
        event.set_user_agent(std::string(StrOr(*detail, "userAgent")));
        break;
      case v1::EVENT_TYPE_RECEIVED: {
        v1::Inbound* inbound = event.mutable_inbound();
        inbound->set_from(FirstAddressText(common, "from"));
        if (common != nullptr) {
          for (std::string_view key : {"to", "cc"}) {
            const json::array* list = JsonArray(*common, key);
            if (list == nullptr) continue;
            for (const json::value& v : *list) {
              if (!v.is_string()) continue;
              (key == "to" ? inbound->add_to(std::string(v.get_string()))
                           : inbound->add_cc(std::string(v.get_string())));
            }
          }
        }
        inbound->set_subject(event.subject());
        inbound->set_message_key(event.message_id());
        for (auto [key, field] : {std::pair<std::string_view, std::string*>{
                                      "spfVerdict", inbound->mutable_spf()},
                                  {"dkimVerdict", inbound->mutable_dkim()},
                                  {"dmarcVerdict", inbound->mutable_dmarc()}}) {
          if (const json::object* verdict = JsonObject(*detail, key)) {
            *field = Lower(StrOr(*verdict, "status"));
          }
        }
        if (auto from = NormalizeAddress(inbound->from()); from.ok()) {
          event.set_sender(from->recipient);
        }
        break;
      }
      default:
        break;
    }
  }

  for (const auto& [address, entry] : recipients) {
    v1::EmailEvent copy = event;
    if (entry != nullptr && copy.type() == v1::EVENT_TYPE_BOUNCED) {
      v1::Bounce* bounce = copy.mutable_bounce();
      bounce->set_enhanced_status(std::string(StrOr(*entry, "status")));
      bounce->set_diagnostic(std::string(StrOr(*entry, "diagnosticCode")));
      bounce->set_smtp_code(SmtpCode(bounce->diagnostic()));
    }
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(copy, address));
    result.events.push_back(std::move(one));
  }
  if (recipients.empty()) {
    // An SES record always names recipients; one without them is still kept, as an event
    // without recipient, rather than lost.
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(std::move(event), ""));
    result.events.push_back(std::move(one));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SesProvider>> SesProvider::Create(
    const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
    absl::Duration replay_horizon, std::shared_ptr<const CertificateSource> certificates) {
  const std::string path(field_path);
  if (source.topic_arns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".topic_arns: required (any AWS account can sign SNS messages)"));
  }
  bool v1 = source.signature_versions.empty();
  bool v2 = source.signature_versions.empty();
  for (size_t i = 0; i < source.signature_versions.size(); ++i) {
    const int version = source.signature_versions[i];
    if (version != 1 && version != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".signature_versions[", i, "]: want 1 or 2, got ", version));
    }
    (version == 1 ? v1 : v2) = true;
  }
  const absl::Duration max_age = source.max_age.value_or(kDefaultMaxAge);
  if (max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".max_age: must not be negative"));
  }
  if (source.pinned_certs.empty() && certificates == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".pinned_certs: required where no HTTPS certificate fetcher is given"));
  }
  if (!source.pinned_certs.empty()) {
    for (const auto& [url, file] : source.pinned_certs) {
      if (absl::Status ok = CheckSigningCertUrl(url); !ok.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".pinned_certs.", url, ": ", ok.message()));
      }
    }
    ASSIGN_OR_RETURN(certificates, PinnedCertificateSource::Create(source.pinned_certs, path));
    // A pinned file that is no certificate would answer 503 forever: refuse it at startup.
    for (const auto& [url, file] : source.pinned_certs) {
      ASSIGN_OR_RETURN(const std::string pem, certificates->Get(url));
      if (auto cert = crypto::ParseRsaCertificate(pem); !cert.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ".pinned_certs.", url, ": \"", file,
                                                       "\": ", cert.status().message()));
      }
    }
  }
  return std::unique_ptr<SesProvider>(new SesProvider(source.name, source.topic_arns, v1, v2,
                                                      max_age, source.auto_confirm,
                                                      replay_horizon, std::move(certificates),
                                                      clock));
}

absl::StatusOr<std::string> SesProvider::StringToSign(std::string_view body) {
  ASSIGN_OR_RETURN(json::object message, ParseEnvelope(body));
  return CanonicalString(message);
}

absl::Status SesProvider::CheckSigningCertUrl(std::string_view url) {
  ASSIGN_OR_RETURN(boost::urls::url_view u, ParseSnsUrl(url));
  if (u.has_query()) return absl::UnauthenticatedError("SNS certificate URL: has a query");
  absl::string_view p(u.encoded_path().data(), u.encoded_path().size());
  if (!absl::ConsumePrefix(&p, "/SimpleNotificationService-") || !absl::ConsumeSuffix(&p, ".pem") ||
      p.empty() || !std::all_of(p.begin(), p.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c));
      })) {
    return absl::UnauthenticatedError(
        "SNS certificate URL: path is not /SimpleNotificationService-<hex>.pem");
  }
  return absl::OkStatus();
}

absl::Status SesProvider::CheckSubscribeUrl(std::string_view url) {
  ASSIGN_OR_RETURN(boost::urls::url_view u, ParseSnsUrl(url));
  if (u.encoded_path() != "/") return absl::UnauthenticatedError("SubscribeURL: path is not /");
  auto action = u.params().find("Action");
  if (action == u.params().end() || !(*action).has_value ||
      (*action).value != "ConfirmSubscription") {
    return absl::UnauthenticatedError("SubscribeURL: Action is not ConfirmSubscription");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SesProvider::SignedMessage(const SnsFields& fields,
                                                       std::string_view private_key_pem) {
  json::object message;
  message["Type"] = fields.type;
  message["MessageId"] = fields.message_id;
  if (fields.type != "Notification") message["Token"] = fields.token;
  message["TopicArn"] = fields.topic_arn;
  if (fields.subject) message["Subject"] = *fields.subject;
  message["Message"] = fields.message;
  if (fields.type != "Notification") message["SubscribeURL"] = fields.subscribe_url;
  message["Timestamp"] = fields.timestamp;
  message["SignatureVersion"] = fields.signature_version;
  message["SigningCertURL"] = fields.signing_cert_url;
  ASSIGN_OR_RETURN(std::string canonical, CanonicalString(message));
  const crypto::RsaDigest digest =
      fields.signature_version == "1" ? crypto::RsaDigest::kSha1 : crypto::RsaDigest::kSha256;
  ASSIGN_OR_RETURN(std::string signature, crypto::RsaSign(private_key_pem, digest, canonical));
  message["Signature"] = crypto::Base64Encode(signature);
  return json::serialize(message);
}

absl::Status SesProvider::Verify(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::object message, ParseEnvelope(request.body));
  ASSIGN_OR_RETURN(const std::string canonical, CanonicalString(message));
  // SNS also names the type and topic in headers; when present they must agree with the signed
  // body, so a router that reads either cannot be told something else.
  for (auto [header, key] : {std::pair<std::string_view, std::string_view>{
                                 "x-amz-sns-message-type", "Type"},
                             {"x-amz-sns-topic-arn", "TopicArn"}}) {
    const int count = request.CountHeader(header);
    if (count > 1) {
      return absl::UnauthenticatedError(absl::StrCat("duplicated ", AbslView(header), " header"));
    }
    if (count == 1 && *request.Header(header) != StrOr(message, key)) {
      return absl::UnauthenticatedError(
          absl::StrCat(AbslView(header), " disagrees with the message's ", AbslView(key)));
    }
  }
  const std::string_view topic = StrOr(message, "TopicArn");
  if (std::find(topic_arns_.begin(), topic_arns_.end(), topic) == topic_arns_.end()) {
    return absl::UnauthenticatedError(
        absl::StrCat("SNS TopicArn not allowed: ", AbslView(topic.substr(0, 200))));
  }
  const std::string_view version = StrOr(message, "SignatureVersion");
  crypto::RsaDigest digest;
  if (version == "1" && allow_v1_) {
    digest = crypto::RsaDigest::kSha1;
  } else if (version == "2" && allow_v2_) {
    digest = crypto::RsaDigest::kSha256;
  } else {
    return absl::UnauthenticatedError(
        absl::StrCat("SNS SignatureVersion not allowed: \"", AbslView(version.substr(0, 10)), "\""));
  }
  auto timestamp = ParseRfc3339(StrOr(message, "Timestamp"));
  if (!timestamp.ok()) return absl::UnauthenticatedError("SNS Timestamp is not RFC 3339");
  const absl::Time published =
      absl::FromUnixSeconds(timestamp->seconds()) + absl::Nanoseconds(timestamp->nanos());
  RETURN_IF_ERROR(CheckTimestampWindow(published, clock_.Now(), max_age_, replay_horizon_));

  ASSIGN_OR_RETURN(std::optional<std::string_view> cert_url,
                   UrlField(message, "SigningCertURL", "SigningCertUrl"));
  if (!cert_url) return absl::UnauthenticatedError("SNS message without SigningCertURL");
  RETURN_IF_ERROR(CheckSigningCertUrl(*cert_url));
  auto signature = crypto::Base64Decode(StrOr(message, "Signature"));
  if (!signature.ok() || signature->empty()) {
    return absl::UnauthenticatedError("SNS Signature is not strict base64");
  }
  // kUnavailable passes through: the ingress answers 503 and SNS retries.
  ASSIGN_OR_RETURN(const std::string pem, certificates_->Get(*cert_url));
  auto cert = crypto::ParseRsaCertificate(pem);
  if (!cert.ok()) {
    return absl::UnavailableError(absl::StrCat("SNS certificate ", AbslView(*cert_url),
                                               " is not usable: ", cert.status().message()));
  }
  const absl::Time now = clock_.Now();
  if (now < cert->not_before || now > cert->not_after) {
    return absl::UnauthenticatedError("SNS signing certificate is not valid now");
  }
  return cert->key.Verify(digest, canonical, *signature);
}

absl::StatusOr<DecodeResult> SesProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::object message, ParseEnvelope(request.body));
  const std::string_view type = StrOr(message, "Type");
  DecodeResult result;
  if (type == "SubscriptionConfirmation") {
    result.control = "subscription-confirmation";
    auto url = UrlField(message, "SubscribeURL", "SubscribeUrl");
    if (auto_confirm_ && url.ok() && url->has_value() && CheckSubscribeUrl(**url).ok()) {
      result.confirm_url = std::string(**url);
    }
    return result;
  }
  if (type == "UnsubscribeConfirmation") {
    result.control = "unsubscribe-confirmation";
    return result;
  }
  if (type != "Notification") {
    return absl::InvalidArgumentError("ses: not an SNS Notification");
  }
  const std::string_view message_id = StrOr(message, "MessageId");
  if (message_id.empty()) return absl::InvalidArgumentError("ses: SNS message without MessageId");
  auto record = ParseJsonLossless(StrOr(message, "Message"));
  if (!record.ok() || !record->is_object()) {
    return absl::InvalidArgumentError("ses: the SNS Message is not an SES JSON record");
  }
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("ses");
  base.set_provider_event_key(std::string(message_id));
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw(request.body);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  return DecodeRecord(record->get_object(), base, StrOr(message, "Timestamp"));
}

}  // namespace switchboard::providers
