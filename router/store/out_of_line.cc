#include "router/store/out_of_line.h"

#include <utility>

#include "absl/status/status.h"
#include "router/common/crypto.h"

namespace switchboard::store {
namespace {

// Adds `event_id` to the events naming `blob` (events come in order, so a repeat is the last).
void NameBy(StoredAttachment& blob, const std::string& event_id) {
  if (blob.event_ids.empty() || blob.event_ids.back() != event_id) {
    blob.event_ids.push_back(event_id);
  }
}

}  // namespace

absl::StatusOr<std::vector<StoredAttachment>> TakeOutOfLine(
    std::vector<v1::EmailEvent>& events, std::map<std::string, std::string>& stored_attachments,
    uint64_t inline_raw_max) {
  // Hash first: a failure leaves the events untouched. The events of one request usually share
  // one raw body and one text/html body (one mail, N recipients): each distinct body is hashed
  // once.
  std::map<std::string, std::string> sha256_of;  // body bytes -> hex SHA-256
  for (const v1::EmailEvent& event : events) {
    for (const std::string* body :
         {&event.raw(), &event.inbound().text(), &event.inbound().html()}) {
      if (body->size() <= inline_raw_max || sha256_of.contains(*body)) continue;
      absl::StatusOr<std::string> digest = crypto::Sha256(*body);
      if (!digest.ok()) return absl::InternalError("cannot hash an event's body bytes");
      sha256_of.emplace(*body, crypto::HexEncode(*digest));
    }
  }

  std::map<std::string, StoredAttachment> blobs;  // by sha256
  // Moves a large body into its blob (the first event naming it gives the bytes) and returns its
  // SHA-256; the caller marks the event.
  auto take = [&](const std::string& event_id, std::string* body) -> std::string {
    const std::string sha256 = sha256_of.at(*body);
    StoredAttachment& blob = blobs[sha256];
    if (blob.sha256.empty()) {
      blob.sha256 = sha256;
      blob.bytes = std::move(*body);
    }
    NameBy(blob, event_id);
    body->clear();
    return sha256;
  };
  for (v1::EmailEvent& event : events) {
    for (const v1::Inbound::Attachment& attachment : event.inbound().attachments()) {
      auto bytes = stored_attachments.find(attachment.sha256());
      if (!attachment.stored() || bytes == stored_attachments.end()) continue;
      StoredAttachment& blob = blobs[attachment.sha256()];
      if (blob.sha256.empty()) {
        blob.sha256 = attachment.sha256();
        blob.bytes = bytes->second;
      }
      NameBy(blob, event.id());
    }
    if (event.raw().size() > inline_raw_max) {
      event.set_raw_size(event.raw().size());
      event.set_raw_sha256(take(event.id(), event.mutable_raw()));
      event.set_raw_stored(true);
    }
    if (!event.has_inbound()) continue;
    v1::Inbound& inbound = *event.mutable_inbound();
    if (inbound.text().size() > inline_raw_max) {
      inbound.set_text_size(inbound.text().size());
      inbound.set_text_sha256(take(event.id(), inbound.mutable_text()));
      inbound.set_text_stored(true);
    }
    if (inbound.html().size() > inline_raw_max) {
      inbound.set_html_size(inbound.html().size());
      inbound.set_html_sha256(take(event.id(), inbound.mutable_html()));
      inbound.set_html_stored(true);
    }
  }
  stored_attachments.clear();

  std::vector<StoredAttachment> out;
  out.reserve(blobs.size());
  for (auto& [sha256, blob] : blobs) out.push_back(std::move(blob));
  return out;
}

bool NamesStoredBytes(const v1::EmailEvent& event) {
  if (event.raw_stored()) return true;
  if (!event.has_inbound()) return false;
  const v1::Inbound& inbound = event.inbound();
  if (inbound.text_stored() || inbound.html_stored()) return true;
  for (const v1::Inbound::Attachment& attachment : inbound.attachments()) {
    if (attachment.stored()) return true;
  }
  return false;
}

}  // namespace switchboard::store
