#include "router/store/archived_event.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/common.h>

#include <climits>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::store {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;

// https://protobuf.dev/programming-guides/encoding/#structure
enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Nested messages and groups within the event. The agent parses the event inside a
// SubscribeResponse frame, at most three levels down (SubscribeResponse.deliveries, a
// DeliveryBatch's Delivery, Delivery.event), under protobuf's default recursion limit of 100
// for the whole frame (io::CodedInputStream::GetDefaultRecursionLimit()).
constexpr int kMaxDepth = 100 - 3;

// What protobuf 3.21's parser takes as a tag or a length (parse_context.h, ReadTag and ReadSize):
// at most 5 bytes; a length at most INT_MAX - 16. A tag above 2^32 - 1, which the C++ parser
// would cut to 32 bits, is refused too: upb, the parser of Python agents, refuses it.
constexpr int kMaxTagOrLengthBytes = 5;
constexpr uint64_t kMaxLength = INT_MAX - 16;

// Where a Timestamp's fields go while its message is walked (EmailEvent.received_at).
struct TimestampCapture {
  bool present = false;
  int64_t seconds = 0;
  int64_t nanos = 0;
};

class Walker {
 public:
  explicit Walker(absl::string_view bytes)
      : in_(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size())) {}

  // The whole input as one `type` message.
  bool WalkTop(const Descriptor& type, int size, TimestampCapture& received_at) {
    in_.PushLimit(size);  // so that BytesUntilLimit() says where the message ends
    return WalkMessage(type, 0, nullptr, &received_at);
  }
  const char* fault() const { return fault_; }

 private:
  bool Fail(const char* fault) {
    fault_ = fault;
    return false;
  }

  // A tag as the parsers read one: 0 if malformed (0 itself is malformed too).
  uint32_t ReadTag() {
    const int start = in_.CurrentPosition();
    uint64_t tag = 0;
    if (!in_.ReadVarint64(&tag) || in_.CurrentPosition() - start > kMaxTagOrLengthBytes ||
        tag > UINT32_MAX) {
      return 0;
    }
    return static_cast<uint32_t>(tag);
  }

  // A length-delimited field's length, as the parser reads one.
  bool ReadLength(int* length) {
    const int start = in_.CurrentPosition();
    uint64_t value = 0;
    if (!in_.ReadVarint64(&value) || in_.CurrentPosition() - start > kMaxTagOrLengthBytes ||
        value > kMaxLength) {
      return Fail("malformed length");
    }
    *length = static_cast<int>(value);
    return true;
  }

  // Fields until the current limit; `capture`: this message is a Timestamp to record;
  // `received_at`: where a top-level EmailEvent records its received_at.
  bool WalkMessage(const Descriptor& type, int depth, TimestampCapture* capture,
                   TimestampCapture* received_at) {
    if (depth > kMaxDepth) return Fail("nested too deep");
    for (;;) {
      if (in_.BytesUntilLimit() == 0) return true;  // the end of the message
      const uint32_t tag = ReadTag();
      if (tag == 0) return Fail("malformed tag");  // 0 itself, cut off, or too long
      const int number = static_cast<int>(tag >> 3);
      const uint32_t wire_type = tag & 7;
      if (number == 0) return Fail("field number 0");
      if (wire_type == kEndGroup) return Fail("end-group tag outside a group");
      const FieldDescriptor* field = type.FindFieldByNumber(number);
      if (field == nullptr || wire_type != DeclaredWireType(*field)) {
        if (!SkipValue(tag, depth)) return false;
        continue;
      }
      switch (field->type()) {
        case FieldDescriptor::TYPE_STRING: {
          const bool proto3 =
              field->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3;
          if (!WalkString(/*utf8=*/proto3)) return false;
          break;
        }
        case FieldDescriptor::TYPE_MESSAGE: {
          int length = 0;
          if (!ReadLength(&length)) return false;
          if (length > in_.BytesUntilLimit()) return Fail("length past the end");
          const CodedInputStream::Limit limit = in_.PushLimit(length);
          TimestampCapture* nested_capture =
              received_at != nullptr && number == v1::EmailEvent::kReceivedAtFieldNumber
                  ? received_at
                  : nullptr;
          if (nested_capture != nullptr) nested_capture->present = true;
          if (!WalkMessage(*field->message_type(), depth + 1, nested_capture, nullptr)) {
            return false;
          }
          in_.PopLimit(limit);
          break;
        }
        default:
          if (capture != nullptr && wire_type == kVarint && (number == 1 || number == 2)) {
            uint64_t value = 0;
            if (!in_.ReadVarint64(&value)) return Fail("malformed varint");
            // google.protobuf.Timestamp: int64 seconds = 1; int32 nanos = 2. The last one wins.
            if (number == 1) {
              capture->seconds = static_cast<int64_t>(value);
            } else {
              capture->nanos = static_cast<int32_t>(value);
            }
            break;
          }
          if (!SkipValue(tag, depth)) return false;
          break;
      }
    }
  }

  bool WalkString(bool utf8) {
    int length = 0;
    if (!ReadLength(&length)) return false;
    const void* data = nullptr;
    int available = 0;
    // The stream reads one flat array, so everything up to its limit is directly available.
    if (length > 0 && (!in_.GetDirectBufferPointer(&data, &available) || length > available)) {
      return Fail("length past the end");
    }
    // The check protobuf's own parser makes on a proto3 string field.
    if (utf8 && length > 0 &&
        !google::protobuf::internal::IsStructurallyValidUTF8(static_cast<const char*>(data),
                                                             length)) {
      return Fail("a string field is not valid UTF-8");
    }
    return in_.Skip(length) ? true : Fail("length past the end");
  }

  // A value read as the parser reads an unknown field's.
  bool SkipValue(uint32_t tag, int depth) {
    switch (tag & 7) {
      case kVarint: {
        uint64_t value = 0;
        return in_.ReadVarint64(&value) ? true : Fail("malformed varint");
      }
      case kFixed64: {
        uint64_t value = 0;
        return in_.ReadLittleEndian64(&value) ? true : Fail("truncated fixed64");
      }
      case kFixed32: {
        uint32_t value = 0;
        return in_.ReadLittleEndian32(&value) ? true : Fail("truncated fixed32");
      }
      case kLengthDelimited: {
        int length = 0;
        if (!ReadLength(&length)) return false;
        return in_.Skip(length) ? true : Fail("length past the end");
      }
      case kStartGroup:
        return SkipGroup(static_cast<int>(tag >> 3), depth + 1);
      default:
        return Fail("invalid wire type");
    }
  }

  bool SkipGroup(int number, int depth) {
    if (depth > kMaxDepth) return Fail("nested too deep");
    for (;;) {
      const uint32_t tag = ReadTag();
      if (tag == 0) return Fail("malformed tag, or a group without its end");
      if ((tag >> 3) == 0) return Fail("field number 0");
      if ((tag & 7) == kEndGroup) {
        return static_cast<int>(tag >> 3) == number ? true : Fail("mismatched end-group tag");
      }
      if (!SkipValue(tag, depth)) return false;
    }
  }

  static uint32_t DeclaredWireType(const FieldDescriptor& field) {
    switch (field.type()) {
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FIXED64:
      case FieldDescriptor::TYPE_SFIXED64:
        return kFixed64;
      case FieldDescriptor::TYPE_FLOAT:
      case FieldDescriptor::TYPE_FIXED32:
      case FieldDescriptor::TYPE_SFIXED32:
        return kFixed32;
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BYTES:
      case FieldDescriptor::TYPE_MESSAGE:
        return kLengthDelimited;
      case FieldDescriptor::TYPE_GROUP:
        return kStartGroup;
      default:
        return kVarint;
    }
  }

  CodedInputStream in_;
  const char* fault_ = "malformed";
};

}  // namespace

absl::StatusOr<ArchivedEventFacts> InspectArchivedEvent(absl::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::DataLossError("archived event: larger than protobuf's 2 GiB limit");
  }
  Walker walker(bytes);
  TimestampCapture received_at;
  if (!walker.WalkTop(*v1::EmailEvent::descriptor(), static_cast<int>(bytes.size()),
                      received_at)) {
    return absl::DataLossError(absl::StrCat("archived event: ", walker.fault()));
  }
  ArchivedEventFacts facts;
  if (received_at.present) {
    facts.received_at = absl::FromUnixSeconds(received_at.seconds) +
                        absl::Nanoseconds(received_at.nanos);
  }
  return facts;
}

}  // namespace switchboard::store
