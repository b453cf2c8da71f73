#include "router/store/out_of_line.h"

#include <utility>

#include "absl/status/status.h"
#include "router/common/crypto.h"

namespace switchboard::store {

absl::StatusOr<std::vector<StoredAttachment>> TakeOutOfLine(
    std::vector<v1::EmailEvent>& events, std::map<std::string, std::string>& stored_attachments,
    uint64_t inline_raw_max) {
  // Hash first: a failure leaves the events untouched. The events of one request usually share
  // one raw body (one mail, N recipients): each distinct body is hashed once.
  std::map<std::string, std::string> raw_sha256;  // raw bytes -> hex SHA-256
  for (const v1::EmailEvent& event : events) {
    if (event.raw().size() <= inline_raw_max || raw_sha256.contains(event.raw())) continue;
    absl::StatusOr<std::string> digest = crypto::Sha256(event.raw());
    if (!digest.ok()) return absl::InternalError("cannot hash an event's raw bytes");
    raw_sha256.emplace(event.raw(), crypto::HexEncode(*digest));
  }

  std::map<std::string, StoredAttachment> blobs;  // by sha256
  for (v1::EmailEvent& event : events) {
    for (const v1::Inbound::Attachment& attachment : event.inbound().attachments()) {
      auto bytes = stored_attachments.find(attachment.sha256());
      if (!attachment.stored() || bytes == stored_attachments.end()) continue;
      StoredAttachment& blob = blobs[attachment.sha256()];
      if (blob.sha256.empty()) {
        blob.sha256 = attachment.sha256();
        blob.bytes = bytes->second;
      }
      if (blob.event_ids.empty() || blob.event_ids.back() != event.id()) {
        blob.event_ids.push_back(event.id());
      }
    }
    if (event.raw().size() <= inline_raw_max) continue;
    const std::string& sha256 = raw_sha256.at(event.raw());
    event.set_raw_size(event.raw().size());
    event.set_raw_sha256(sha256);
    event.set_raw_stored(true);
    StoredAttachment& blob = blobs[sha256];
    if (blob.sha256.empty()) {
      blob.sha256 = sha256;
      blob.bytes = std::move(*event.mutable_raw());
    }
    if (blob.event_ids.empty() || blob.event_ids.back() != event.id()) {
      blob.event_ids.push_back(event.id());
    }
    event.clear_raw();
  }
  stored_attachments.clear();

  std::vector<StoredAttachment> out;
  out.reserve(blobs.size());
  for (auto& [sha256, blob] : blobs) out.push_back(std::move(blob));
  return out;
}

}  // namespace switchboard::store
