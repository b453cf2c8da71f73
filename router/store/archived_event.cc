#include "router/store/archived_event.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/common.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::store {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

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

struct TypeTable;

// What the walk needs of one declared field, read once from its descriptor instead of on every
// field of every event (FindFieldByNumber, type(), file()->syntax(), message_type()).
struct FieldInfo {
  enum class Kind : uint8_t { kUnknown, kScalar, kString, kUtf8String, kMessage };
  Kind kind = Kind::kUnknown;
  uint32_t wire_type = 0;            // the wire type the declaration implies
  const TypeTable* nested = nullptr;  // kMessage: the field's message type
};

// The declared fields of one message type, by field number.
struct TypeTable {
  const FieldInfo* Find(int number) const {
    if (number < static_cast<int>(dense.size())) return &dense[number];
    const auto it = sparse.find(number);
    return it == sparse.end() ? nullptr : &it->second;
  }
  std::vector<FieldInfo> dense;                 // numbers below kDenseFieldNumbers
  absl::flat_hash_map<int, FieldInfo> sparse;  // the others
};
constexpr int kDenseFieldNumbers = 256;

uint32_t DeclaredWireType(const FieldDescriptor& field) {
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

// The tables of `root` and of every message type reachable from it, built once; a type that
// contains itself (directly or not) shares its table.
class TypeTables {
 public:
  explicit TypeTables(const Descriptor& root) { root_ = Build(root); }
  const TypeTable& root() const { return *root_; }

 private:
  const TypeTable* Build(const Descriptor& type) {
    auto [it, inserted] = tables_.try_emplace(&type, nullptr);
    if (!inserted) return it->second.get();
    it->second = std::make_unique<TypeTable>();
    TypeTable* table = it->second.get();
    for (int i = 0; i < type.field_count(); ++i) {
      const FieldDescriptor& field = *type.field(i);
      FieldInfo info;
      info.wire_type = DeclaredWireType(field);
      switch (field.type()) {
        case FieldDescriptor::TYPE_STRING:
          // The check protobuf's own parser makes on a proto3 string field.
          info.kind = field.file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3
                          ? FieldInfo::Kind::kUtf8String
                          : FieldInfo::Kind::kString;
          break;
        case FieldDescriptor::TYPE_MESSAGE:
          info.kind = FieldInfo::Kind::kMessage;
          info.nested = Build(*field.message_type());
          break;
        default:
          info.kind = FieldInfo::Kind::kScalar;
          break;
      }
      if (field.number() < kDenseFieldNumbers) {
        if (field.number() >= static_cast<int>(table->dense.size())) {
          table->dense.resize(field.number() + 1);
        }
        table->dense[field.number()] = info;
      } else {
        table->sparse[field.number()] = info;
      }
    }
    return table;
  }

  absl::flat_hash_map<const Descriptor*, std::unique_ptr<TypeTable>> tables_;
  const TypeTable* root_ = nullptr;
};

const TypeTable& EmailEventTable() {
  static const TypeTables* const tables = new TypeTables(*v1::EmailEvent::descriptor());
  return tables->root();
}

// One pass over the bytes with a cursor and the end of the message being walked. It reads
// varints, lengths and fixed-width values as io::CodedInputStream (protobuf 3.21) does: a varint
// is at most 10 bytes, bits past the 64th are dropped, and a value cut off by the end of its
// message is malformed. With these tables, it takes about half the CPU of the walk that called
// CodedInputStream and the descriptors for every field (BENCHMARKS.md, the eighteenth round).
class Walker {
 public:
  explicit Walker(absl::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  // The whole input as one message of the type `type` describes.
  bool WalkTop(const TypeTable& type, TimestampCapture& received_at) {
    return WalkMessage(type, 0, nullptr, &received_at);
  }
  const char* fault() const { return fault_; }

 private:
  bool Fail(const char* fault) {
    fault_ = fault;
    return false;
  }

  size_t Left() const { return static_cast<size_t>(end_ - p_); }

  // io::CodedInputStream::ReadVarint64: false if cut off, or if a 10th byte continues.
  bool ReadVarint64(uint64_t* value, int* bytes_read) {
    uint64_t result = 0;
    for (int i = 0; i < 10; ++i) {
      if (p_ == end_) return false;
      const uint8_t byte = *p_++;
      result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);  // bits past 64 drop
      if ((byte & 0x80) == 0) {
        *value = result;
        *bytes_read = i + 1;
        return true;
      }
    }
    return false;
  }

  // A tag as the parsers read one: 0 if malformed (0 itself is malformed too).
  uint32_t ReadTag() {
    uint64_t tag = 0;
    int bytes = 0;
    if (!ReadVarint64(&tag, &bytes) || bytes > kMaxTagOrLengthBytes || tag > UINT32_MAX) return 0;
    return static_cast<uint32_t>(tag);
  }

  // A length-delimited field's length, as the parser reads one.
  bool ReadLength(size_t* length) {
    uint64_t value = 0;
    int bytes = 0;
    if (!ReadVarint64(&value, &bytes) || bytes > kMaxTagOrLengthBytes || value > kMaxLength) {
      return Fail("malformed length");
    }
    *length = static_cast<size_t>(value);
    return true;
  }

  // Fields until the end of the message; `capture`: this message is a Timestamp to record;
  // `received_at`: where a top-level EmailEvent records its received_at.
  bool WalkMessage(const TypeTable& type, int depth, TimestampCapture* capture,
                   TimestampCapture* received_at) {
    if (depth > kMaxDepth) return Fail("nested too deep");
    for (;;) {
      if (p_ == end_) return true;  // the end of the message
      const uint32_t tag = ReadTag();
      if (tag == 0) return Fail("malformed tag");  // 0 itself, cut off, or too long
      const int number = static_cast<int>(tag >> 3);
      const uint32_t wire_type = tag & 7;
      if (number == 0) return Fail("field number 0");
      if (wire_type == kEndGroup) return Fail("end-group tag outside a group");
      const FieldInfo* field = type.Find(number);
      if (field == nullptr || field->kind == FieldInfo::Kind::kUnknown ||
          wire_type != field->wire_type) {
        if (!SkipValue(tag, depth)) return false;
        continue;
      }
      switch (field->kind) {
        case FieldInfo::Kind::kString:
        case FieldInfo::Kind::kUtf8String:
          if (!WalkString(/*utf8=*/field->kind == FieldInfo::Kind::kUtf8String)) return false;
          break;
        case FieldInfo::Kind::kMessage: {
          size_t length = 0;
          if (!ReadLength(&length)) return false;
          if (length > Left()) return Fail("length past the end");
          const uint8_t* const outer_end = end_;
          end_ = p_ + length;
          TimestampCapture* nested_capture =
              received_at != nullptr && number == v1::EmailEvent::kReceivedAtFieldNumber
                  ? received_at
                  : nullptr;
          if (nested_capture != nullptr) nested_capture->present = true;
          if (!WalkMessage(*field->nested, depth + 1, nested_capture, nullptr)) return false;
          end_ = outer_end;
          break;
        }
        default:
          if (capture != nullptr && wire_type == kVarint && (number == 1 || number == 2)) {
            uint64_t value = 0;
            int bytes = 0;
            if (!ReadVarint64(&value, &bytes)) return Fail("malformed varint");
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
    size_t length = 0;
    if (!ReadLength(&length)) return false;
    if (length > Left()) return Fail("length past the end");
    // The check protobuf's own parser makes on a proto3 string field.
    if (utf8 && length > 0 &&
        !google::protobuf::internal::IsStructurallyValidUTF8(reinterpret_cast<const char*>(p_),
                                                             static_cast<int>(length))) {
      return Fail("a string field is not valid UTF-8");
    }
    p_ += length;
    return true;
  }

  // A value read as the parser reads an unknown field's.
  bool SkipValue(uint32_t tag, int depth) {
    switch (tag & 7) {
      case kVarint: {
        uint64_t value = 0;
        int bytes = 0;
        return ReadVarint64(&value, &bytes) ? true : Fail("malformed varint");
      }
      case kFixed64:
        return SkipBytes(8) ? true : Fail("truncated fixed64");
      case kFixed32:
        return SkipBytes(4) ? true : Fail("truncated fixed32");
      case kLengthDelimited: {
        size_t length = 0;
        if (!ReadLength(&length)) return false;
        return SkipBytes(length) ? true : Fail("length past the end");
      }
      case kStartGroup:
        return SkipGroup(static_cast<int>(tag >> 3), depth + 1);
      default:
        return Fail("invalid wire type");
    }
  }

  bool SkipBytes(size_t count) {
    if (count > Left()) return false;
    p_ += count;
    return true;
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

  const uint8_t* p_;    // the next byte to read
  const uint8_t* end_;  // the end of the message being walked
  const char* fault_ = "malformed";
};

}  // namespace

absl::StatusOr<ArchivedEventFacts> InspectArchivedEvent(absl::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::DataLossError("archived event: larger than protobuf's 2 GiB limit");
  }
  Walker walker(bytes);
  TimestampCapture received_at;
  if (!walker.WalkTop(EmailEventTable(), received_at)) {
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
