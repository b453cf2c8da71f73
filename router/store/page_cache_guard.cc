#include "router/store/page_cache_guard.h"

#include <sqlite3.h>

#include <atomic>
#include <new>

namespace switchboard::store {
namespace {

// SQLite's PENDING_BYTE (https://sqlite.org/fileformat2.html#lockbyte): the page holding it is
// never a database page; balance_nonroot() borrows its number while it swaps two page numbers.
constexpr uint64_t kPendingByte = 0x40000000;

sqlite3_pcache_methods2 inner;  // pcache1, read by SQLite's configuration before any cache
std::atomic<uint64_t> skipped{0};
std::atomic<uint64_t> forwarded{0};

struct Cache {
  sqlite3_pcache* inner;
  unsigned lock_page;         // the lock-byte page's number at this page size
  unsigned max_key = 0;       // no page of this cache has a larger key (the lock page aside)
  bool on_lock_page = false;  // a page may have lock_page as its key right now
};

Cache* Of(sqlite3_pcache* p) { return reinterpret_cast<Cache*>(p); }

int Init(void* arg) { return inner.xInit(arg); }
void Shutdown(void* arg) { inner.xShutdown(arg); }

sqlite3_pcache* Create(int page_size, int extra, int purgeable) {
  sqlite3_pcache* cache = inner.xCreate(page_size, extra, purgeable);
  if (cache == nullptr) return nullptr;
  auto* wrapped = static_cast<Cache*>(sqlite3_malloc(sizeof(Cache)));
  if (wrapped == nullptr) {
    inner.xDestroy(cache);
    return nullptr;
  }
  new (wrapped) Cache{cache, static_cast<unsigned>(kPendingByte / page_size + 1)};
  return reinterpret_cast<sqlite3_pcache*>(wrapped);
}

void Cachesize(sqlite3_pcache* p, int pages) { inner.xCachesize(Of(p)->inner, pages); }
int Pagecount(sqlite3_pcache* p) { return inner.xPagecount(Of(p)->inner); }

sqlite3_pcache_page* Fetch(sqlite3_pcache* p, unsigned key, int create) {
  Cache* cache = Of(p);
  sqlite3_pcache_page* page = inner.xFetch(cache->inner, key, create);
  if (page != nullptr) {
    if (key == cache->lock_page) {
      cache->on_lock_page = true;  // SQLite drops it at once (a corrupt-file check)
    } else if (key > cache->max_key) {
      cache->max_key = key;
    }
  }
  return page;
}

void Unpin(sqlite3_pcache* p, sqlite3_pcache_page* page, int discard) {
  inner.xUnpin(Of(p)->inner, page, discard);
}

void Rekey(sqlite3_pcache* p, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
  Cache* cache = Of(p);
  inner.xRekey(cache->inner, page, old_key, new_key);
  if (new_key == cache->lock_page) {
    cache->on_lock_page = true;
  } else {
    if (old_key == cache->lock_page) cache->on_lock_page = false;
    if (new_key > cache->max_key) cache->max_key = new_key;
  }
}

void Truncate(sqlite3_pcache* p, unsigned limit) {
  Cache* cache = Of(p);
  if (limit > cache->max_key && !cache->on_lock_page) {
    skipped.fetch_add(1, std::memory_order_relaxed);
    return;  // no page has a key >= limit: nothing to drop
  }
  forwarded.fetch_add(1, std::memory_order_relaxed);
  inner.xTruncate(cache->inner, limit);
  if (limit > 0 && limit - 1 < cache->max_key) cache->max_key = limit - 1;
  cache->on_lock_page = cache->on_lock_page && cache->lock_page < limit;
}

void Destroy(sqlite3_pcache* p) {
  Cache* cache = Of(p);
  inner.xDestroy(cache->inner);
  cache->~Cache();
  sqlite3_free(cache);
}

void Shrink(sqlite3_pcache* p) { inner.xShrink(Of(p)->inner); }

}  // namespace

bool InstallPageCacheGuard() {
  static const bool installed = [] {
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner) != SQLITE_OK) return false;
    static sqlite3_pcache_methods2 guard = {1,         inner.pArg, Init,  Shutdown, Create,
                                             Cachesize, Pagecount,  Fetch, Unpin,    Rekey,
                                             Truncate,  Destroy,    Shrink};
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &guard) == SQLITE_OK;
  }();
  return installed;
}

PageCacheGuardCounts PageCacheGuardCountsForTest() {
  return {skipped.load(std::memory_order_relaxed), forwarded.load(std::memory_order_relaxed)};
}

}  // namespace switchboard::store
