#include "router/store/row_ids.h"

#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"

namespace switchboard::store::embedded_internal {
namespace {

constexpr const char* kNames[] = {"archive", "queue"};
constexpr char kReadSql[] = "SELECT last FROM row_id_sequences WHERE name = ?1";
constexpr char kWriteSql[] = "UPDATE row_id_sequences SET last = ?2 WHERE name = ?1";

}  // namespace

absl::Status RowIds::Load(Table table) {
  Sequence& sequence = sequences_[table];
  if (sequence.loaded) return absl::OkStatus();
  Statement read = statements_.Get(kReadSql);
  read.Bind(kNames[table]);
  ASSIGN_OR_RETURN(const bool row, read.Step());
  if (!row) {
    return absl::InternalError(
        absl::StrCat("row_id_sequences has no row for \"", kNames[table], "\""));
  }
  sequence.stored = sequence.last = read.Int(0);
  sequence.loaded = true;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RowIds::Next(Table table) {
  RETURN_IF_ERROR(Load(table));
  return ++sequences_[table].last;
}

absl::StatusOr<int64_t> RowIds::Last(Table table) {
  RETURN_IF_ERROR(Load(table));
  return sequences_[table].last;
}

void RowIds::Advance(Table table, int64_t rows) {
  if (rows > 0) sequences_[table].last += rows;
}

absl::Status RowIds::BeforeCommit() {
  for (int table = kArchive; table <= kQueue; ++table) {
    Sequence& sequence = sequences_[table];
    if (!sequence.loaded || sequence.last == sequence.stored) continue;
    RETURN_IF_ERROR(statements_.Get(kWriteSql).Bind(kNames[table], sequence.last).Run());
    sequence.stored = sequence.last;
  }
  return absl::OkStatus();
}

void RowIds::AfterGroup() { sequences_ = {}; }

}  // namespace switchboard::store::embedded_internal
