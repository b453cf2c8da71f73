// AdminService.GetAttachment (admin_service.h): bytes kept out of line (Store::GetAttachment: an
// inbound attachment or an event's raw body), streamed in chunks so large bytes never make a
// large gRPC message.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "router/admin/admin_service.h"

namespace switchboard::admin {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;  // admin.proto: at most 1 MiB per chunk

// A call refused before it started (no token, a missing field).
class RefusedReactor final : public grpc::ServerWriteReactor<v1::AttachmentChunk> {
 public:
  explicit RefusedReactor(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One GetAttachment call. The store's answer (a store thread) starts the first write; every
// later write starts in OnWriteDone (a gRPC thread) after the previous one finished, so at most
// one thread touches the reactor at a time. Finish is called exactly once, by whichever of them
// ends the stream; gRPC then calls OnDone, which deletes the reactor.
class AttachmentReactor final : public grpc::ServerWriteReactor<v1::AttachmentChunk> {
 public:
  AttachmentReactor(store::Store& store, const v1::GetAttachmentRequest& request) {
    store.GetAttachment(request.event_id(), request.sha256(),
                        [this](absl::StatusOr<std::string> bytes) {
                          if (!bytes.ok()) {
                            Finish(AdminServiceImpl::ToGrpc(bytes.status()));
                            return;
                          }
                          bytes_ = *std::move(bytes);
                          WriteNext();
                        });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  // The next chunk, or Finish once all went out (an empty attachment is one empty chunk).
  void WriteNext() {
    if (started_ && offset_ >= bytes_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t size = std::min(kChunkBytes, bytes_.size() - offset_);
    chunk_.set_data(bytes_.substr(offset_, size));
    offset_ += size;
    started_ = true;
    StartWrite(&chunk_);
  }

  std::string bytes_;
  size_t offset_ = 0;
  bool started_ = false;
  v1::AttachmentChunk chunk_;
};

}  // namespace

grpc::ServerWriteReactor<v1::AttachmentChunk>* AdminServiceImpl::GetAttachment(
    grpc::CallbackServerContext* context, const v1::GetAttachmentRequest* request) {
  absl::Status refused;
  if (absl::StatusOr<std::string> admin = Authenticate(*context); !admin.ok()) {
    refused = admin.status();
  } else if (request->event_id().empty()) {
    refused = absl::InvalidArgumentError("event_id: required");
  } else if (request->sha256().empty()) {
    refused = absl::InvalidArgumentError("sha256: required");
  }
  if (!refused.ok()) return new RefusedReactor(ToGrpc(refused));
  return new AttachmentReactor(store_, *request);
}

}  // namespace switchboard::admin
