#pragma once

#include <cstdint>

namespace switchboard::store {

// A thin wrapper around SQLite's built-in page cache (pcache1) that skips the truncations which
// have nothing to drop.
//
// Why: when a b-tree split reorders its new pages, SQLite's balance_nonroot() renumbers one of
// them to the lock-byte page (PENDING_BYTE / page_size + 1; page 262145 for 4 KiB pages) for a
// moment. pcache1 then remembers 262145 as the largest key it ever held, and every COMMIT's
// truncation of the cache to the database size (pager_end_transaction) walks ALL of its hash
// buckets and pages looking for pages above that size. With the store's 64 MiB cache that walk
// was the single hottest function of the router under load (7 % of its CPU in S1, more with one
// agent in S6), though it never finds a page to drop.
//
// What it does: every page enters a cache through xFetch or xRekey, so the wrapper knows the
// largest key any page of each cache can have (the lock-byte page aside, which SQLite renumbers
// away again within the same split; while a page sits there every truncation is forwarded). A
// truncation to a limit above that key has nothing to drop and is skipped; every other call is
// forwarded unchanged to pcache1.
//
// Install before the process's first SQLite call: sqlite3_config() is refused once SQLite is
// initialized (then the cache stays as it is). Process-wide, thread-safe (each cache's state is
// used under the connection's own mutex, as pcache1's is).
//
// Returns true if the wrapper is (now) installed.
bool InstallPageCacheGuard();

// How many truncations were skipped and forwarded since the start; for tests and diagnostics.
struct PageCacheGuardCounts {
  uint64_t skipped = 0;
  uint64_t forwarded = 0;
};
PageCacheGuardCounts PageCacheGuardCountsForTest();

}  // namespace switchboard::store
