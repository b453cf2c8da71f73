#include "router/providers/event_id.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"

namespace switchboard::providers {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

absl::StatusOr<std::string> ComputeEventId(std::string_view source,
                                           std::string_view provider_event_key,
                                           std::string_view recipient_key) {
  std::string preimage;
  preimage.reserve(source.size() + provider_event_key.size() + recipient_key.size() + 2);
  preimage.append(source).append(1, '\0').append(provider_event_key).append(1, '\0').append(
      recipient_key);
  ASSIGN_OR_RETURN(std::string digest, crypto::Sha256(preimage));
  return crypto::HexEncode(digest);
}

absl::StatusOr<NormalizedAddress> NormalizeAddress(std::string_view text) {
  std::string_view address = TrimSpaces(text);
  if (!address.empty() && address.back() == '>') {
    const size_t open = address.rfind('<');
    if (open == std::string_view::npos) {
      return absl::InvalidArgumentError("address: '>' without '<'");
    }
    address = TrimSpaces(address.substr(open + 1, address.size() - open - 2));
  }
  for (char c : address) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c)) || c == '<' || c == '>') {
      return absl::InvalidArgumentError(
          absl::StrCat("address: unexpected character in \"", std::string(address), "\""));
    }
  }
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address: expected local@domain, got \"", std::string(address), "\""));
  }
  NormalizedAddress out;
  out.recipient = absl::StrCat(std::string(address.substr(0, at + 1)),
                               absl::AsciiStrToLower(std::string(address.substr(at + 1))));
  out.recipient_key = absl::AsciiStrToLower(std::string(address));
  return out;
}

absl::StatusOr<v1::EmailEvent> ForRecipient(const v1::EmailEvent& event, std::string_view address) {
  return ForRecipient(v1::EmailEvent(event), address);
}

absl::StatusOr<v1::EmailEvent> ForRecipient(v1::EmailEvent&& event, std::string_view address) {
  // Read `address` before anything of `event` changes: it may point into it.
  std::optional<NormalizedAddress> normalized;
  if (!address.empty()) {
    ASSIGN_OR_RETURN(normalized, NormalizeAddress(address));
  }
  v1::EmailEvent out = std::move(event);
  if (normalized) {
    out.set_recipient(std::move(normalized->recipient));
    out.set_recipient_key(std::move(normalized->recipient_key));
  }
  ASSIGN_OR_RETURN(std::string id,
                   ComputeEventId(out.source(), out.provider_event_key(), out.recipient_key()));
  out.set_id(std::move(id));
  return out;
}

absl::Status AppendForRecipients(v1::EmailEvent&& event, const std::vector<std::string>& recipients,
                                 std::vector<v1::EmailEvent>& out) {
  if (recipients.empty()) {
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(std::move(event), ""));
    out.push_back(std::move(one));
    return absl::OkStatus();
  }
  for (size_t i = 0; i + 1 < recipients.size(); ++i) {
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(event, recipients[i]));
    out.push_back(std::move(one));
  }
  ASSIGN_OR_RETURN(v1::EmailEvent last, ForRecipient(std::move(event), recipients.back()));
  out.push_back(std::move(last));
  return absl::OkStatus();
}

}  // namespace switchboard::providers
