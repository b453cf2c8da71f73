#include "router/store/row_ids.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"

namespace switchboard::store::embedded_internal {
namespace {

constexpr char kReadArchiveSql[] = "SELECT last FROM row_id_sequences WHERE name = 'archive'";
constexpr char kWriteArchiveSql[] = "UPDATE row_id_sequences SET last = ?1 WHERE name = 'archive'";
constexpr char kCurrentRangeSql[] =
    "SELECT range, last FROM queue_ranges WHERE agent = ?1 ORDER BY range DESC LIMIT 1";
constexpr char kHighestRangeSql[] = "SELECT max(range), max(last) FROM queue_ranges";
// Answers no row if the range is another agent's or its last id would go back (either would
// mean a cache out of step with the file).
constexpr char kWriteRangeSql[] =
    "INSERT INTO queue_ranges(range, agent, last) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(range) DO UPDATE SET last = excluded.last "
    "WHERE queue_ranges.agent = excluded.agent AND queue_ranges.last <= excluded.last "
    "RETURNING range";

// The last id range `range` can hold.
int64_t RangeEnd(int64_t range) {
  return range * RowIds::kQueueRangeIds + (RowIds::kQueueRangeIds - 1);
}

}  // namespace

absl::StatusOr<int64_t> RowIds::NextArchiveSeq() {
  if (!archive_loaded_) {
    Statement read = statements_.Get(kReadArchiveSql);
    ASSIGN_OR_RETURN(const bool row, read.Step());
    if (!row) return absl::InternalError("row_id_sequences has no row for \"archive\"");
    archive_stored_ = archive_last_ = read.Int(0);
    archive_loaded_ = true;
  }
  return ++archive_last_;
}

absl::StatusOr<std::optional<RowIds::QueueRange>> RowIds::CurrentRange(absl::string_view agent) {
  if (auto it = group_ranges_.find(agent); it != group_ranges_.end()) return it->second;
  if (auto it = committed_ranges_.find(agent); it != committed_ranges_.end()) return it->second;
  Statement read = statements_.Get(kCurrentRangeSql);
  read.Bind(agent);
  ASSIGN_OR_RETURN(const bool row, read.Step());
  if (!row) return std::nullopt;
  const QueueRange range{.range = read.Int(0), .last = read.Int(1), .reserved = read.Int(1)};
  group_ranges_.emplace(agent, range);  // kept once the group commits
  return range;
}

absl::StatusOr<int64_t> RowIds::NewRange() {
  if (!group_next_range_.has_value()) group_next_range_ = committed_next_range_;
  if (!group_next_range_.has_value()) {
    // Above every range and every id stored so far (range 0's ids may reach past its end).
    Statement read = statements_.Get(kHighestRangeSql);
    ASSIGN_OR_RETURN(const bool row, read.Step());
    int64_t next = 1;
    if (row && !read.IsNull(0)) {
      next = std::max({next, read.Int(0) + 1, read.Int(1) / kQueueRangeIds + 1});
    }
    group_next_range_ = next;
  }
  const int64_t range = *group_next_range_;
  if (range > kMaxQueueRange) {
    return absl::ResourceExhaustedError(
        absl::StrCat("every queue id range up to ", kMaxQueueRange, " has been used"));
  }
  ++*group_next_range_;
  return range;
}

absl::StatusOr<int64_t> RowIds::ReserveQueueIds(absl::string_view agent, int64_t count) {
  if (count < 1 || count >= kQueueRangeIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot reserve ", count, " queue ids at once (1 to ", kQueueRangeIds - 1,
                     ")"));
  }
  ASSIGN_OR_RETURN(std::optional<QueueRange> current, CurrentRange(agent));
  if (!current.has_value() || current->last > RangeEnd(current->range) - count) {
    // The ids this group handed out of the old range are written back with the new one's.
    if (current.has_value() && current->changed) {
      group_left_ranges_.emplace_back(std::string(agent), *current);
    }
    ASSIGN_OR_RETURN(const int64_t range, NewRange());
    const int64_t before_first = range * kQueueRangeIds - 1;
    current = QueueRange{.range = range, .last = before_first, .reserved = before_first};
  }
  const int64_t first = current->last + 1;
  current->last += count;
  if (current->last > current->reserved) {
    current->reserved = std::min(RangeEnd(current->range) - kQueueIdsAhead, current->last) +
                        kQueueIdsAhead;
    current->changed = true;
  }
  if (auto it = group_ranges_.find(agent); it != group_ranges_.end()) {
    it->second = *current;
  } else {
    group_ranges_.emplace(agent, *current);
  }
  return first;
}

absl::Status RowIds::BeforeCommit() {
  if (archive_loaded_ && archive_last_ != archive_stored_) {
    RETURN_IF_ERROR(statements_.Get(kWriteArchiveSql).Bind(archive_last_).Run());
    archive_stored_ = archive_last_;
  }
  const auto write = [&](absl::string_view agent, const QueueRange& range) -> absl::Status {
    Statement statement = statements_.Get(kWriteRangeSql);
    statement.Bind(range.range, agent, range.reserved);
    ASSIGN_OR_RETURN(const bool row, statement.Step());
    if (row) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("queue id range ", range.range, " of agent \"",
                                            agent.substr(0, 64),
                                            "\" is another agent's in the file, or further on"));
  };
  for (const auto& [agent, range] : group_left_ranges_) RETURN_IF_ERROR(write(agent, range));
  for (const auto& [agent, range] : group_ranges_) {
    if (range.changed) RETURN_IF_ERROR(write(agent, range));
  }
  return absl::OkStatus();
}

void RowIds::AfterGroup(bool committed) {
  archive_loaded_ = false;
  if (committed) {
    for (auto& [agent, range] : group_ranges_) {
      range.changed = false;
      committed_ranges_.insert_or_assign(agent, range);
    }
    if (group_next_range_.has_value()) committed_next_range_ = group_next_range_;
  } else {
    committed_ranges_.clear();
    committed_next_range_.reset();
  }
  group_ranges_.clear();
  group_left_ranges_.clear();
  group_next_range_.reset();
}

}  // namespace switchboard::store::embedded_internal
