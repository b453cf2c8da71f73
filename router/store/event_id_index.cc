#include "router/store/event_id_index.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"
#include "router/store/sqlite_statement.h"

namespace switchboard::store::embedded_internal {
namespace {

constexpr int kWordsPerBlock = 8;  // 512 bits: one cache line

// Stored filters must read back the same: XXH3's output is frozen from xxHash 0.8.0 on, and the
// filter's words are stored in host order, which is little-endian on every host we build for.
static_assert(XXH_VERSION_NUMBER >= 800, "XXH3-64 is stable only from xxHash 0.8.0");
static_assert(std::endian::native == std::endian::little, "filters are stored little-endian");

constexpr char kRunsSql[] =
    "SELECT run, level, state, entries, newest, filter, fences, filter IS NULL OR fences IS NULL "
    "FROM event_id_runs ORDER BY run";
constexpr char kNewRunSql[] =
    "INSERT INTO event_id_runs(level, state, entries, newest) VALUES(?1, 1, 0, 0)";
constexpr char kCompleteRunSql[] =
    "UPDATE event_id_runs SET level = ?2, state = 0, entries = ?3, newest = ?4, filter = ?5, "
    "fences = ?6 WHERE run = ?1";
constexpr char kSetStateSql[] = "UPDATE event_id_runs SET state = ?2 WHERE run = ?1";
constexpr char kDeleteRunSql[] = "DELETE FROM event_id_runs WHERE run = ?1";
constexpr char kInsertBlockSql[] = "INSERT INTO event_id_blocks(key, ids) VALUES(?1, ?2)";
constexpr char kBlockSql[] = "SELECT ids FROM event_id_blocks WHERE key = ?1";
// ?1 first key of the run, ?2 first key past it, ?3 how many.
constexpr char kDropBlocksSql[] =
    "DELETE FROM event_id_blocks WHERE key IN "
    "(SELECT key FROM event_id_blocks WHERE key >= ?1 AND key < ?2 LIMIT ?3)";
constexpr char kAnyBlockSql[] =
    "SELECT EXISTS(SELECT 1 FROM event_id_blocks WHERE key >= ?1 AND key < ?2)";
constexpr char kImportTableSql[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'event_id_import'";
// ?1: ids committed at or before it are past their window.
constexpr char kImportCountSql[] =
    "SELECT count(*) FROM event_id_import WHERE id <> '' AND committed_at > ?1";
constexpr char kImportSql[] =
    "SELECT CAST(id AS BLOB), committed_at FROM event_id_import WHERE id <> '' AND "
    "committed_at > ?1 ORDER BY id";
constexpr char kDropImportSql[] = "DROP TABLE event_id_import";

int64_t BlockKey(int64_t run, int64_t block) { return (run << 32) + block; }

void PutU32(std::string& out, uint32_t value) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 4);
}
void PutI64(std::string& out, int64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(value) >> (8 * i));
  out.append(bytes, 8);
}
uint64_t GetLittleEndian(const char* bytes, int n) {
  uint64_t value = 0;
  for (int i = 0; i < n; ++i) value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return value;
}

// Walks the entries of a block (event_id_index.h: u32 length, id, i64 committed_at), calling
// visit(id, committed_at) until it answers false. kDataLoss if the bytes do not parse.
template <typename Visit>
absl::Status ForEachEntry(absl::string_view bytes, Visit visit) {
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 4) return absl::DataLossError("a truncated event id block");
    const uint64_t length = GetLittleEndian(bytes.data() + at, 4);
    at += 4;
    if (bytes.size() - at < length + 8) return absl::DataLossError("a truncated event id block");
    const absl::string_view id = bytes.substr(at, length);
    at += length;
    const auto committed_at = static_cast<int64_t>(GetLittleEndian(bytes.data() + at, 8));
    at += 8;
    if (!visit(id, committed_at)) break;
  }
  return absl::OkStatus();
}

std::string EncodeFences(const std::vector<std::string>& fences) {
  std::string out;
  for (const std::string& fence : fences) {
    PutU32(out, static_cast<uint32_t>(fence.size()));
    out += fence;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeFences(absl::string_view bytes) {
  std::vector<std::string> fences;
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 4) return absl::DataLossError("truncated event id fences");
    const uint64_t length = GetLittleEndian(bytes.data() + at, 4);
    at += 4;
    if (bytes.size() - at < length) return absl::DataLossError("truncated event id fences");
    fences.emplace_back(bytes.substr(at, length));
    at += length;
  }
  return fences;
}

// The level of a run that did not come from merges (the migration's): as if merged up from runs
// of 64 ids.
int LevelFor(int64_t entries, int fanout) {
  int level = 0;
  for (int64_t size = 64; size < entries; size *= fanout) ++level;
  return level;
}

}  // namespace

// --- BlockedBloomFilter --------------------------------------------------------------------------

BlockedBloomFilter::BlockedBloomFilter(int64_t ids, int bits_per_id) {
  const int64_t bits = std::max<int64_t>(1, ids) * std::max(1, bits_per_id);
  const int64_t blocks = std::max<int64_t>(1, (bits + 511) / 512);
  words_.assign(blocks * kWordsPerBlock, 0);
}

absl::StatusOr<BlockedBloomFilter> BlockedBloomFilter::FromBytes(absl::string_view bytes) {
  constexpr size_t kBlockBytes = kWordsPerBlock * sizeof(uint64_t);
  if (bytes.empty() || bytes.size() % kBlockBytes != 0) {
    return absl::DataLossError(
        absl::StrCat("an event id filter of ", bytes.size(), " bytes is not whole blocks"));
  }
  BlockedBloomFilter filter;
  filter.words_.resize(bytes.size() / sizeof(uint64_t));
  std::memcpy(filter.words_.data(), bytes.data(), bytes.size());  // little-endian hosts only
  return filter;
}

uint64_t BlockedBloomFilter::Hash(absl::string_view id) { return XXH3_64bits(id.data(), id.size()); }

const uint64_t* BlockedBloomFilter::Block(uint64_t hash) const {
  const uint64_t blocks = words_.size() / kWordsPerBlock;
  // The high half picks the block (multiply-shift range reduction), the low half the bits.
  const uint64_t block = ((hash >> 32) * blocks) >> 32;
  return words_.data() + block * kWordsPerBlock;
}

void BlockedBloomFilter::Add(uint64_t hash) {
  if (words_.empty()) return;
  auto* block = const_cast<uint64_t*>(Block(hash));
  uint32_t bit = static_cast<uint32_t>(hash);
  const uint32_t delta = (bit >> 17) | (bit << 15);
  for (int i = 0; i < kProbes; ++i, bit += delta) block[(bit & 511) >> 6] |= uint64_t{1} << (bit & 63);
}

bool BlockedBloomFilter::MayContain(uint64_t hash) const {
  if (words_.empty()) return false;
  const uint64_t* block = Block(hash);
  uint32_t bit = static_cast<uint32_t>(hash);
  const uint32_t delta = (bit >> 17) | (bit << 15);
  for (int i = 0; i < kProbes; ++i, bit += delta) {
    if ((block[(bit & 511) >> 6] & (uint64_t{1} << (bit & 63))) == 0) return false;
  }
  return true;
}

std::string BlockedBloomFilter::Bytes() const {
  return std::string(reinterpret_cast<const char*>(words_.data()),
                     words_.size() * sizeof(uint64_t));
}

// --- EventIdIndex --------------------------------------------------------------------------------

EventIdIndex::EventIdIndex(sqlite3* db, StatementCache& statements, Options options,
                           int64_t import_cutoff)
    : db_(db), statements_(statements), options_(options), import_cutoff_(import_cutoff) {}

absl::StatusOr<std::unique_ptr<EventIdIndex>> EventIdIndex::Open(sqlite3* db,
                                                                 StatementCache& statements,
                                                                 Options options,
                                                                 int64_t cutoff) {
  options.fanout = std::max(2, options.fanout);
  std::unique_ptr<EventIdIndex> index(new EventIdIndex(db, statements, options, cutoff));
  RETURN_IF_ERROR(index->Load());
  return index;
}

absl::Status EventIdIndex::Load() {
  live_.clear();
  merges_.clear();
  dropping_.clear();
  struct Row {
    int64_t run;
    int level;
    int state;
    int64_t entries;
    int64_t newest;
    std::string filter;
    std::string fences;
    bool incomplete;
  };
  std::vector<Row> rows;
  {
    Statement query = statements_.Get(kRunsSql);
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, query.Step());
      if (!row) break;
      rows.push_back({query.Int(0), static_cast<int>(query.Int(1)), static_cast<int>(query.Int(2)),
                      query.Int(3), query.Int(4), query.Bytes(5), query.Bytes(6),
                      query.Int(7) != 0});
    }
  }
  for (Row& row : rows) {
    if (row.state == kBuilding) RETURN_IF_ERROR(SetState(row.run, kDropping));
    if (row.state != kLive) {
      dropping_.push_back(row.run);
      continue;
    }
    if (row.incomplete) {
      return absl::DataLossError(
          absl::StrCat("event id run ", row.run, " is live but has no filter or fences"));
    }
    Run run;
    run.id = row.run;
    run.level = row.level;
    run.entries = row.entries;
    run.newest = row.newest;
    ASSIGN_OR_RETURN(run.filter, BlockedBloomFilter::FromBytes(row.filter));
    ASSIGN_OR_RETURN(run.fences, DecodeFences(row.fences));
    live_.push_back(std::move(run));
  }
  return Import();
}

absl::Status EventIdIndex::Import() {
  {
    Statement exists = statements_.Get(kImportTableSql);
    ASSIGN_OR_RETURN(const bool row, exists.Step());
    if (!row || exists.Int(0) == 0) return absl::OkStatus();
  }
  int64_t count = 0;
  {
    Statement query = statements_.Get(kImportCountSql);
    query.Bind(import_cutoff_);
    ASSIGN_OR_RETURN(const bool row, query.Step());
    if (row) count = query.Int(0);
  }
  if (count > 0) {
    ASSIGN_OR_RETURN(RunWriter writer, StartRun(LevelFor(count, options_.fanout), count));
    Statement query = statements_.Get(kImportSql);  // in id order
    query.Bind(import_cutoff_);
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, query.Step());
      if (!row) break;
      RETURN_IF_ERROR(Append(writer, query.BytesView(0), query.Int(1)));
    }
    RETURN_IF_ERROR(CompleteRun(writer));
  }
  return statements_.Get(kDropImportSql).Run();
}

absl::StatusOr<EventIdIndex::RunWriter> EventIdIndex::StartRun(int level,
                                                               int64_t expected_entries) {
  RETURN_IF_ERROR(statements_.Get(kNewRunSql).Bind(int64_t{level}).Run());
  RunWriter writer;
  writer.run = sqlite3_last_insert_rowid(db_);
  writer.level = level;
  writer.filter = BlockedBloomFilter(expected_entries, options_.bits_per_id);
  return writer;
}

absl::Status EventIdIndex::Append(RunWriter& writer, absl::string_view id, int64_t committed_at) {
  const auto entry_bytes = static_cast<int64_t>(4 + id.size() + 8);
  if (!writer.block.empty() &&
      static_cast<int64_t>(writer.block.size()) + entry_bytes > kBlockBytes) {
    RETURN_IF_ERROR(FlushBlock(writer));
  }
  if (writer.block.empty()) writer.fences.emplace_back(id);
  PutU32(writer.block, static_cast<uint32_t>(id.size()));
  writer.block.append(id.data(), id.size());
  PutI64(writer.block, committed_at);
  writer.filter.Add(BlockedBloomFilter::Hash(id));
  ++writer.entries;
  writer.newest = std::max(writer.newest, committed_at);
  return absl::OkStatus();
}

absl::Status EventIdIndex::FlushBlock(RunWriter& writer) {
  if (writer.block.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(statements_.Get(kInsertBlockSql)
                      .Bind(BlockKey(writer.run, writer.blocks), Blob{writer.block})
                      .Run());
  ++writer.blocks;
  ++blocks_written_;
  writer.block.clear();
  return absl::OkStatus();
}

absl::Status EventIdIndex::CompleteRun(RunWriter& writer) {
  RETURN_IF_ERROR(FlushBlock(writer));
  if (writer.entries == 0) {
    RETURN_IF_ERROR(SetState(writer.run, kDropping));
    dropping_.push_back(writer.run);
    return absl::OkStatus();
  }
  const std::string filter = writer.filter.Bytes();
  const std::string fences = EncodeFences(writer.fences);
  RETURN_IF_ERROR(statements_.Get(kCompleteRunSql)
                      .Bind(writer.run, int64_t{writer.level}, writer.entries, writer.newest,
                            Blob{filter}, Blob{fences})
                      .Run());
  Run run;
  run.id = writer.run;
  run.level = writer.level;
  run.entries = writer.entries;
  run.newest = writer.newest;
  run.filter = std::move(writer.filter);
  run.fences = std::move(writer.fences);
  live_.push_back(std::move(run));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> EventIdIndex::Find(const Run& run, absl::string_view id) {
  // The block whose first id is the last one <= id.
  auto fence = std::upper_bound(run.fences.begin(), run.fences.end(), id,
                                [](absl::string_view a, const std::string& b) { return a < b; });
  if (fence == run.fences.begin()) return std::nullopt;
  const int64_t block = (fence - run.fences.begin()) - 1;
  Statement query = statements_.Get(kBlockSql);
  query.Bind(BlockKey(run.id, block));
  ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return absl::DataLossError(absl::StrCat("event id run ", run.id, " has no block ", block));
  }
  std::optional<int64_t> found;
  RETURN_IF_ERROR(ForEachEntry(query.BytesView(0), [&](absl::string_view entry, int64_t at) {
    if (entry == id) found = at;
    return entry < id;  // sorted: past it, it is not there
  }));
  return found;
}

absl::Status EventIdIndex::BeginGroup() {
  blocks_written_ = 0;
  if (!reload_) return absl::OkStatus();
  RETURN_IF_ERROR(Load());
  reload_ = false;
  return absl::OkStatus();
}

absl::StatusOr<bool> EventIdIndex::Contains(absl::string_view id, int64_t cutoff) {
  if (reload_) return absl::UnavailableError("the event id index did not reload");
  if (auto it = group_index_.find(id); it != group_index_.end()) {
    return group_[it->second].committed_at > cutoff;
  }
  const uint64_t hash = BlockedBloomFilter::Hash(id);
  // Newest runs first: a provider's retry usually comes soon after the original.
  for (auto run = live_.rbegin(); run != live_.rend(); ++run) {
    if (run->newest <= cutoff || !run->filter.MayContain(hash)) continue;
    ASSIGN_OR_RETURN(const std::optional<int64_t> committed_at, Find(*run, id));
    if (committed_at.has_value() && *committed_at > cutoff) return true;
  }
  return false;
}

void EventIdIndex::Add(absl::string_view id, int64_t committed_at) {
  group_index_.emplace(std::string(id), group_.size());
  group_.push_back({std::string(id), BlockedBloomFilter::Hash(id), committed_at});
}

void EventIdIndex::ForgetSince(size_t n) {
  for (size_t i = n; i < group_.size(); ++i) group_index_.erase(group_[i].id);
  if (n < group_.size()) group_.resize(n);
}

absl::Status EventIdIndex::BeforeCommit(int64_t cutoff) {
  if (reload_) return absl::UnavailableError("the event id index did not reload");
  const auto added = static_cast<int64_t>(group_.size());
  RETURN_IF_ERROR(WriteGroupRun());
  RETURN_IF_ERROR(ExpireRuns(cutoff));
  if (added == 0) return absl::OkStatus();
  RETURN_IF_ERROR(StartDueMerges());
  const int64_t work = options_.work_per_group + options_.work_per_id * added;
  // Lower levels first: their merges are small, and they keep the count of runs down.
  std::sort(merges_.begin(), merges_.end(), [](const Merge& a, const Merge& b) {
    return a.target.level < b.target.level;
  });
  int64_t budget = work;
  for (Merge& merge : merges_) {
    if (budget <= 0) break;
    ASSIGN_OR_RETURN(const int64_t consumed, StepMerge(merge, budget, cutoff));
    budget -= std::max<int64_t>(consumed, 1);
  }
  std::erase_if(merges_, [](const Merge& merge) { return merge.finished; });
  // Every block written is deleted once, after its run is merged away or expires: deleting
  // twice as many as this group wrote keeps up, however few ids each group adds.
  return StepDrops(2 * blocks_written_ + 2);
}

void EventIdIndex::AfterGroup(bool committed) {
  group_.clear();
  group_index_.clear();
  if (!committed) reload_ = true;
}

absl::Status EventIdIndex::WriteGroupRun() {
  if (group_.empty()) return absl::OkStatus();
  std::vector<const Added*> sorted;
  sorted.reserve(group_.size());
  for (const Added& added : group_) sorted.push_back(&added);
  std::sort(sorted.begin(), sorted.end(),
            [](const Added* a, const Added* b) { return a->id < b->id; });
  ASSIGN_OR_RETURN(RunWriter writer, StartRun(0, static_cast<int64_t>(group_.size())));
  for (const Added* added : sorted) {
    RETURN_IF_ERROR(Append(writer, added->id, added->committed_at));
  }
  return CompleteRun(writer);
}

absl::Status EventIdIndex::ExpireRuns(int64_t cutoff) {
  for (size_t i = 0; i < live_.size();) {
    if (live_[i].newest > cutoff || live_[i].merging) {
      ++i;
      continue;
    }
    RETURN_IF_ERROR(SetState(live_[i].id, kDropping));
    dropping_.push_back(live_[i].id);
    live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return absl::OkStatus();
}

absl::Status EventIdIndex::StartDueMerges() {
  for (;;) {
    // A level with `fanout` runs not already merging, and no merge into the next level yet.
    absl::flat_hash_map<int, std::vector<Run*>> idle;
    for (Run& run : live_) {
      if (!run.merging) idle[run.level].push_back(&run);
    }
    std::vector<Run*>* due = nullptr;
    for (auto& [level, runs] : idle) {
      const int target_level = level + 1;
      if (static_cast<int>(runs.size()) >= options_.fanout &&
          std::none_of(merges_.begin(), merges_.end(),
                       [&](const Merge& m) { return m.target.level == target_level; })) {
        due = &runs;
        break;
      }
    }
    if (due == nullptr) return absl::OkStatus();
    // The oldest runs of the level, so a merge's ids are close in time and its run expires as
    // a whole.
    std::sort(due->begin(), due->end(),
              [](const Run* a, const Run* b) { return a->newest < b->newest; });
    due->resize(options_.fanout);
    int64_t entries = 0;
    for (const Run* run : *due) entries += run->entries;
    ASSIGN_OR_RETURN(RunWriter target, StartRun((*due)[0]->level + 1, entries));
    Merge merge;
    merge.target = std::move(target);
    for (Run* run : *due) {
      run->merging = true;
      Source source;
      source.run = run->id;
      merge.sources.push_back(std::move(source));
    }
    merges_.push_back(std::move(merge));
  }
}

absl::StatusOr<int64_t> EventIdIndex::StepMerge(Merge& merge, int64_t budget, int64_t cutoff) {
  int64_t consumed = 0;
  while (consumed < budget) {
    Source* first = nullptr;
    for (Source& source : merge.sources) {
      if (!source.done && source.position == source.entries.size()) {
        source.entries.clear();
        source.position = 0;
        Statement query = statements_.Get(kBlockSql);
        query.Bind(BlockKey(source.run, source.next_block));
        ASSIGN_OR_RETURN(const bool row, query.Step());
        if (!row) {
          source.done = true;
        } else {
          ++source.next_block;
          RETURN_IF_ERROR(ForEachEntry(query.BytesView(0), [&](absl::string_view id, int64_t at) {
            source.entries.push_back({std::string(id), at});
            return true;
          }));
        }
      }
      if (source.done || source.position == source.entries.size()) continue;
      if (first == nullptr ||
          source.entries[source.position].id < first->entries[first->position].id) {
        first = &source;
      }
    }
    if (first == nullptr) {
      RETURN_IF_ERROR(FinishMerge(merge));
      break;
    }
    // The smallest id, at its latest commit, from every source that holds it.
    const std::string id = first->entries[first->position].id;
    int64_t committed_at = 0;
    for (Source& source : merge.sources) {
      if (source.position < source.entries.size() && source.entries[source.position].id == id) {
        committed_at = std::max(committed_at, source.entries[source.position].committed_at);
        ++source.position;
        ++consumed;
      }
    }
    if (committed_at > cutoff) RETURN_IF_ERROR(Append(merge.target, id, committed_at));
  }
  return consumed;
}

absl::Status EventIdIndex::FinishMerge(Merge& merge) {
  RETURN_IF_ERROR(CompleteRun(merge.target));
  for (const Source& source : merge.sources) {
    RETURN_IF_ERROR(SetState(source.run, kDropping));
    dropping_.push_back(source.run);
  }
  std::erase_if(live_, [&](const Run& run) {
    return std::any_of(merge.sources.begin(), merge.sources.end(),
                       [&](const Source& source) { return source.run == run.id; });
  });
  merge.finished = true;
  return absl::OkStatus();
}

absl::Status EventIdIndex::StepDrops(int64_t budget) {
  while (!dropping_.empty() && budget > 0) {
    const int64_t run = dropping_.front();
    RETURN_IF_ERROR(statements_.Get(kDropBlocksSql)
                        .Bind(BlockKey(run, 0), BlockKey(run + 1, 0), budget)
                        .Run());
    budget -= sqlite3_changes(db_);
    if (budget <= 0) {
      Statement left = statements_.Get(kAnyBlockSql);
      left.Bind(BlockKey(run, 0), BlockKey(run + 1, 0));
      ASSIGN_OR_RETURN(const bool row, left.Step());
      if (row && left.Int(0) != 0) break;  // the next group goes on
    }
    RETURN_IF_ERROR(statements_.Get(kDeleteRunSql).Bind(run).Run());
    dropping_.erase(dropping_.begin());
  }
  return absl::OkStatus();
}

absl::Status EventIdIndex::SetState(int64_t run, RunState state) {
  return statements_.Get(kSetStateSql).Bind(run, int64_t{state}).Run();
}

}  // namespace switchboard::store::embedded_internal
