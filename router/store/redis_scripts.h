#pragma once

// The Lua scripts of RedisStore (router/store/redis_store.h). Each runs atomically in Redis (no
// other command interleaves), so every step below is all-or-nothing with respect to other replicas.
//
// ARGV[1] of every script is the key prefix P. Keys, per agent name A (the braces are a Redis
// Cluster hash tag, kept for a future cluster mode; cluster is not supported today):
//   P..'dedupe:'..H       string  commit time (Unix us), PX = dedupe window; H = SHA-256(id)[0:16]
//   P..'archive'          stream  every committed event (id, at, event, agents), trimmed by MINID
//                                 at commit, never past P..'archive:pin'
//   P..'q:{A}'            stream  A's queue, consumer group 'switchboard' (entries: id, ref,
//                                 rules, at); entries are XDEL'ed once acked or dead-lettered.
//                                 `ref` is the archive entry holding the event bytes, so a commit
//                                 writes them once (the AOF carries them once). Replays, and
//                                 entries written before refs, hold their own copy in `event`.
//   P..'queues'           set     every agent a commit wrote a ref for: every queue that may
//                                 hold refs
//   P..'archive:pin'      string  an archive stream id no queue entry refers below, set by the
//                                 archive sweep (kTrimArchive): commits trim only below it
//   P..'lease:{A}'        zset    stream id -> lease deadline (us, from the router's Clock)
//   P..'delay:{A}'        zset    stream id -> visible-again time after a Nack / Release (us)
//   P..'meta:{A}'         hash    stream id -> "<attempt>\n<claimed_at us>\n<last error>", and
//                                 stream id..'/b' -> the current lease's expiry backoff (us): how
//                                 long after its deadline an expired lease stays invisible
//   P..'dead:{A}'         stream  A's dead letters (id, attempts, reason, at, event)
//   P..'enqueued'         pub/sub channel: "<instance>\n<agent>" after a commit enqueued for agent
//   P..'refs'             pub/sub channel nobody publishes on: every replica that reads queue
//                         refs subscribes to it (and to 'enqueued'); kWatchReplicas counts them
//   P..'copies'           string  set (PX 10 min) while a replica that cannot read refs is seen
//                                 (kWatchReplicas)
// Invariant: a queue's ref entries are in the order of their refs (only a commit writes refs, in
// the same script as the archive entry), so its first ref entry holds its oldest ref.
// Invariant: a pending entry of the group (delivered at least once, not acked) is in exactly one
// of lease:{A} or delay:{A}; never-delivered entries are after the group's last-delivered id.
// Times are decimal Unix microseconds (exact in a Lua double / zset score below 2^53).

namespace switchboard::store::redis_scripts {

// Shared helpers, prepended to every script below.
inline constexpr char kPrelude[] = R"lua(
local P = ARGV[1]
local GROUP = 'switchboard'
local function keys(agent)
  local t = '{' .. agent .. '}'
  return P .. 'q:' .. t, P .. 'lease:' .. t, P .. 'delay:' .. t, P .. 'meta:' .. t, P .. 'dead:' .. t
end
local function field(fields, name)
  for k = 1, #fields, 2 do
    if fields[k] == name then return fields[k + 1] end
  end
  return ''
end
local function get_meta(M, id)
  local m = redis.call('HGET', M, id)
  if not m then return nil end
  local a = string.find(m, '\n', 1, true)
  if not a then return nil end
  local b = string.find(m, '\n', a + 1, true)
  if not b then return nil end
  return tonumber(string.sub(m, 1, a - 1)), string.sub(m, a + 1, b - 1), string.sub(m, b + 1)
end
local function set_meta(M, id, attempt, claimed_at, last_error)
  redis.call('HSET', M, id, string.format('%d', attempt) .. '\n' .. claimed_at .. '\n' .. last_error)
end
local function forget(L, D, M, id)
  redis.call('ZREM', L, id)
  redis.call('ZREM', D, id)
  redis.call('HDEL', M, id, id .. '/b')
end
-- Stream ids "<ms>-<seq>": a < b.
local function id_less(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
-- The event bytes of a queue entry: the archive entry its `ref` names, or its own copy; nil when
-- the archive entry is gone (only an operator's own XTRIM/XDEL does that: see kTrimArchive).
local function event_of(fields)
  local ref = field(fields, 'ref')
  if ref == '' then return field(fields, 'event') end
  local e = redis.call('XRANGE', P .. 'archive', ref, ref)[1]
  if type(e) ~= 'table' then return nil end
  return field(e[2], 'event')
end
local function bury(q, L, D, M, X, id, fields, attempts, reason, now)
  local bytes = event_of(fields)
  if not bytes then
    bytes, reason = '', reason .. '; the archived event is gone'
  end
  redis.call('XADD', X, '*', 'id', field(fields, 'id'), 'attempts', string.format('%d', attempts),
             'reason', reason, 'at', now, 'event', bytes)
  redis.call('XACK', q, GROUP, id)
  redis.call('XDEL', q, id)
  forget(L, D, M, id)
end
)lua";

// Run by every replica before its first batch and then about once a second: a replica that
// cannot read queue refs (a router of an earlier release, during a rolling upgrade) subscribes to
// P..'enqueued' but not to P..'refs'. While there are more of the former, P..'copies' is set for
// 10 minutes (a subscription that drops for a moment comes back within a second), and commits
// give queue entries their own copy. ARGV: P. Returns the number of such replicas.
inline constexpr char kWatchReplicas[] = R"lua(
local subscribers = redis.call('PUBSUB', 'NUMSUB', P .. 'enqueued', P .. 'refs')
local earlier = tonumber(subscribers[2]) - tonumber(subscribers[4])
if earlier > 0 then redis.call('SET', P .. 'copies', '1', 'PX', 600000) end
return earlier
)lua";

// Commits the events of one Commit call: per event, dedupe + archive + enqueue. A queue entry
// refers to the archive entry (the bytes are written once), unless P..'copies' says that a
// replica that cannot read refs is connected (kWatchReplicas). Then it holds its own copy, which
// every release reads.
// ARGV: P, now, dedupe cutoff (now - window), window in ms, archive MINID (ms), event count, then
// per event: dedupe hash, event id, event bytes, target count, then per target: agent, rules.
// The archive is trimmed below the MINID, or below P..'archive:pin' if that is older; not at all
// before the first archive sweep set the pin.
// Returns one integer per event: 1 committed, 0 duplicate.
inline constexpr char kCommit[] = R"lua(
local now, cutoff, window_ms = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n = tonumber(ARGV[6])
local min_id = redis.call('GET', P .. 'archive:pin')
if min_id and not id_less(min_id, ARGV[5] .. '-0') then min_id = ARGV[5] .. '-0' end
local A = P .. 'archive'
local refs = redis.call('EXISTS', P .. 'copies') == 0
local i = 7
local out = {}
for e = 1, n do
  local dkey, id, bytes, targets = P .. 'dedupe:' .. ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  local seen = redis.call('GET', dkey)
  if seen and tonumber(seen) and tonumber(seen) > cutoff then
    out[e] = 0
    i = i + 2 * targets
  else
    redis.call('SET', dkey, now, 'PX', window_ms)
    local agents = {}
    for t = 1, targets do agents[t] = ARGV[i + 2 * (t - 1)] end
    local ref
    if min_id then
      ref = redis.call('XADD', A, 'MINID', min_id, '*', 'id', id, 'at', now, 'event', bytes,
                       'agents', table.concat(agents, '\n'))
    else
      ref = redis.call('XADD', A, '*', 'id', id, 'at', now, 'event', bytes,
                       'agents', table.concat(agents, '\n'))
    end
    for t = 1, targets do
      local q = keys(ARGV[i])
      if redis.call('EXISTS', q) == 0 then
        redis.call('XGROUP', 'CREATE', q, GROUP, '0', 'MKSTREAM')
      end
      if refs then
        redis.call('SADD', P .. 'queues', ARGV[i])  -- also a queue an earlier release created
        redis.call('XADD', q, '*', 'id', id, 'ref', ref, 'rules', ARGV[i + 1], 'at', now)
      else
        redis.call('XADD', q, '*', 'id', id, 'event', bytes, 'rules', ARGV[i + 1], 'at', now)
      end
      i = i + 2
    end
    out[e] = 1
  end
end
return out
)lua";

// Leases up to `max` visible entries of one agent: redeliveries first (expired leases and due
// delays, earliest first), then new entries (XREADGROUP '>'). An expired lease whose expiry
// backoff runs past now moves to the delay set instead (visible at deadline + backoff, last error
// "lease expired"). An entry past max_attempts is dead-lettered instead, and so is one whose
// archived event is gone (reason "undeliverable; the archived event is gone"). ARGV: P, agent,
// consumer, now, lease deadline, max, max_attempts, claimed_at (the lease start written to meta:
// now, or just after this consumer's previous claim, so that it names this claim alone).
// Returns {stream id, attempt, event id, event bytes, rules} per leased entry.
inline constexpr char kClaim[] = R"lua(
local agent, consumer, now_s, until_s, claimed_at = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8]
local now, max, max_attempts = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
local q, L, D, M, X = keys(agent)
local out = {}
if max <= 0 or redis.call('EXISTS', q) == 0 then return out end
while #out < max do
  local l = redis.call('ZRANGEBYSCORE', L, '-inf', now_s, 'WITHSCORES', 'LIMIT', 0, 1)
  local d = redis.call('ZRANGEBYSCORE', D, '-inf', now_s, 'WITHSCORES', 'LIMIT', 0, 1)
  local id, expired
  if l[1] and (not d[1] or tonumber(l[2]) <= tonumber(d[2])) then
    id, expired = l[1], true
  elseif d[1] then
    id, expired = d[1], false
  else
    break
  end
  local attempt, _, last_error = get_meta(M, id)
  attempt, last_error = attempt or 0, last_error or ''
  if expired then last_error = 'lease expired' end
  local wait_until = nil
  if expired then
    local backoff = tonumber(redis.call('HGET', M, id .. '/b') or '0') or 0
    if tonumber(l[2]) + backoff > now then wait_until = tonumber(l[2]) + backoff end
  end
  if wait_until then
    -- The lease ran out: visible again once its expiry backoff is over.
    redis.call('ZREM', L, id)
    redis.call('HDEL', M, id .. '/b')
    redis.call('ZADD', D, string.format('%d', wait_until), id)
    set_meta(M, id, attempt, '', last_error)
  else
    local entry = redis.call('XCLAIM', q, GROUP, consumer, 0, id)[1]
    local bytes = type(entry) == 'table' and event_of(entry[2])
    if type(entry) ~= 'table' then
      forget(L, D, M, id)  -- the stream entry is gone: nothing left to deliver
    elseif not bytes or attempt + 1 > max_attempts then
      local reason = 'max attempts reached'
      if last_error ~= '' then reason = reason .. '; last error: ' .. last_error end
      if not bytes then reason = 'undeliverable' end  -- bury() says why
      bury(q, L, D, M, X, id, entry[2], attempt, reason, now_s)
    else
      redis.call('ZREM', D, id)
      redis.call('HDEL', M, id .. '/b')
      redis.call('ZADD', L, until_s, id)
      set_meta(M, id, attempt + 1, claimed_at, last_error)
      out[#out + 1] = {id, attempt + 1, field(entry[2], 'id'), bytes, field(entry[2], 'rules')}
    end
  end
end
local buried = 1  -- read again only after burying what could not be delivered
while #out < max and buried > 0 do
  buried = 0
  local r = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', max - #out, 'STREAMS', q, '>')
  if not (r and r[1]) then break end
  for _, entry in ipairs(r[1][2]) do
    local id = entry[1]
    local bytes = event_of(entry[2])
    if bytes then
      redis.call('ZADD', L, until_s, id)
      set_meta(M, id, 1, claimed_at, '')
      out[#out + 1] = {id, 1, field(entry[2], 'id'), bytes, field(entry[2], 'rules')}
    else
      bury(q, L, D, M, X, id, entry[2], 0, 'undeliverable', now_s)
      buried = buried + 1
    end
  end
end
return out
)lua";

// Ack / Nack / Extend / Release / dead-letter of one delivery, only while its lease is current
// (same attempt, deadline after now). ARGV: P, agent, stream id, attempt, now, op, arg, reason.
//   ack: XACK + XDEL.  nack: visible again at `arg`, last error = reason.  extend: deadline = arg.
//   release: visible now.  bury: dead-letter with `reason`.
// Returns 1 if applied, 0 if the delivery is not current.
inline constexpr char kSettle[] = R"lua(
local agent, id, attempt_s, now_s, op, arg, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local q, L, D, M, X = keys(agent)
local attempt, claimed_at = get_meta(M, id)
if not attempt or attempt ~= tonumber(attempt_s) then return 0 end
local deadline = redis.call('ZSCORE', L, id)
if not deadline or tonumber(deadline) <= tonumber(now_s) then return 0 end
if op == 'ack' then
  redis.call('XACK', q, GROUP, id)
  redis.call('XDEL', q, id)
  forget(L, D, M, id)
elseif op == 'nack' then
  redis.call('ZREM', L, id)
  redis.call('HDEL', M, id .. '/b')
  redis.call('ZADD', D, arg, id)
  set_meta(M, id, attempt, '', reason)
elseif op == 'extend' then
  redis.call('ZADD', L, 'XX', arg, id)
elseif op == 'release' then
  redis.call('ZREM', L, id)
  redis.call('HDEL', M, id .. '/b')
  redis.call('ZADD', D, now_s, id)
  set_meta(M, id, attempt, '', 'released')
elseif op == 'bury' then
  local entry = redis.call('XRANGE', q, id, id)[1]
  if type(entry) ~= 'table' then
    forget(L, D, M, id)
  else
    bury(q, L, D, M, X, id, entry[2], attempt, reason, now_s)
  end
else
  return redis.error_reply('ERR unknown settle op')
end
return 1
)lua";

// Records the expiry backoff (Store::ExpiryBackoff) of the leases one claim just made, for those
// still leased at the same attempt (also once their deadline passed: a lease is not taken over
// before a claim applies the backoff). ARGV: P, agent, then per lease: stream id, attempt, backoff
// (us). Returns the number recorded.
inline constexpr char kArmBackoff[] = R"lua(
local q, L, D, M = keys(ARGV[2])
local armed = 0
for i = 3, #ARGV - 2, 3 do
  local id = ARGV[i]
  local attempt = get_meta(M, id)
  if attempt and attempt == tonumber(ARGV[i + 1]) and redis.call('ZSCORE', L, id) then
    redis.call('HSET', M, id .. '/b', ARGV[i + 2])
    armed = armed + 1
  end
end
return armed
)lua";

// Queue statistics of one agent. ARGV: P, agent, now.
// Returns {ready, leased, delayed, dead letters, oldest lease start (us) or ''}.
inline constexpr char kStats[] = R"lua(
local agent, now_s = ARGV[2], ARGV[3]
local now = tonumber(now_s)
local q, L, D, M, X = keys(agent)
local dead = redis.call('XLEN', X)
if redis.call('EXISTS', q) == 0 then return {0, 0, 0, dead, ''} end
local pending = redis.call('XPENDING', q, GROUP)[1]
local never_delivered = redis.call('XLEN', q) - pending
local leased = redis.call('ZRANGEBYSCORE', L, '(' .. now_s, '+inf')
local oldest = nil
for _, id in ipairs(leased) do
  local _, claimed_at = get_meta(M, id)
  local t = tonumber(claimed_at)
  if t and (not oldest or t < oldest) then oldest = t end
end
-- An expired lease is ready once its expiry backoff is over, delayed until then.
local expired = redis.call('ZRANGEBYSCORE', L, '-inf', now_s, 'WITHSCORES')
local expired_ready, expired_waiting = 0, 0
for k = 1, #expired, 2 do
  local backoff = tonumber(redis.call('HGET', M, expired[k] .. '/b') or '0') or 0
  if tonumber(expired[k + 1]) + backoff > now then
    expired_waiting = expired_waiting + 1
  else
    expired_ready = expired_ready + 1
  end
end
local ready = never_delivered + expired_ready + redis.call('ZCOUNT', D, '-inf', now_s)
local delayed = expired_waiting + redis.call('ZCOUNT', D, '(' .. now_s, '+inf')
local oldest_s = ''
if oldest then oldest_s = string.format('%d', oldest) end
return {ready, #leased, delayed, dead, oldest_s}
)lua";

// The earliest lease deadline or delay, also one at or before now (Store::NextVisibleAt: it may
// have come after the caller's last claim), or '' if none. An expired lease with an expiry backoff
// answers its deadline: the next claim moves it to the delay set. ARGV: P, agent, now.
inline constexpr char kNextVisible[] = R"lua(
local agent, now_s = ARGV[2], ARGV[3]
local q, L, D = keys(agent)
local best = nil
for _, z in ipairs({L, D}) do
  local r = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  if r[2] then
    local t = tonumber(r[2])
    if not best or t < best then best = t end
  end
end
if not best then return '' end
return string.format('%d', best)
)lua";

// After a claim whose reply was lost (the connection broke or timed out once it was sent): the
// entries it may have leased to this consumer, which nobody delivers, become visible at once, and
// the attempt that never reached an agent does not count. They are the entries of lease:{A} with
// exactly the claim's deadline and exactly its claimed_at (unique per consumer), pending for this
// consumer. Sent with EVAL (rare).
// ARGV: P, agent, consumer, claimed_at, lease deadline, now. Returns the number released.
inline constexpr char kReleaseLostClaim[] = R"lua(
local agent, consumer, claimed_at, until_s, now_s = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local q, L, D, M = keys(agent)
if redis.call('EXISTS', q) == 0 or tonumber(until_s) <= tonumber(now_s) then return 0 end
local released = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', L, until_s, until_s)) do
  local attempt, at = get_meta(M, id)
  if attempt and at == claimed_at and #redis.call('XPENDING', q, GROUP, id, id, 1, consumer) == 1 then
    redis.call('ZREM', L, id)
    redis.call('HDEL', M, id .. '/b')
    redis.call('ZADD', D, now_s, id)
    set_meta(M, id, attempt - 1, '', 'released: the claim reply was lost')
    released = released + 1
  end
end
return released
)lua";

// At shutdown: the current leases this consumer holds become visible at once (their streams end
// with this process), its pending entries move to the consumer 'parked', and the consumer is
// deleted. ARGV: P, agent, consumer, now. Returns the number of leases released.
inline constexpr char kRetire[] = R"lua(
local agent, consumer, now_s = ARGV[2], ARGV[3], ARGV[4]
local q, L, D, M = keys(agent)
if redis.call('EXISTS', q) == 0 then return 0 end
local released = 0
local pending = redis.call('XPENDING', q, GROUP, '-', '+', 100000, consumer)
for _, p in ipairs(pending) do
  local id = p[1]
  local deadline = redis.call('ZSCORE', L, id)
  if deadline and tonumber(deadline) > tonumber(now_s) then
    local attempt = get_meta(M, id)
    redis.call('ZREM', L, id)
    redis.call('HDEL', M, id .. '/b')
    redis.call('ZADD', D, now_s, id)
    set_meta(M, id, attempt or 0, '', 'released: router shut down')
    released = released + 1
  end
  redis.call('XCLAIM', q, GROUP, 'parked', 0, id, 'JUSTID')
end
redis.call('XGROUP', 'DELCONSUMER', q, GROUP, consumer)
return released
)lua";

// ---- Data lifecycle (quarantine, retention sweeps, recipient purge) ----
// Keys besides the ones above:
//   P..'quarantine'       stream  authentic webhooks that did not decode (source, reason, version,
//                                 at, headers, body); the entry id is the quarantine id
// Sent with EVAL after kPrelude + kLifecyclePrelude (rare operator/sweeper calls: no script cache).
// Entries carry `at` (router Clock, us); streams are in arrival order, so age scans stop at the
// first younger entry.

inline constexpr char kLifecyclePrelude[] = R"lua(
-- Calls visit(id, fields) for the entries of stream `key`, oldest first, until it returns false.
local function scan(key, visit)
  local start = '-'
  while true do
    local chunk = redis.call('XRANGE', key, start, '+', 'COUNT', 200)
    if #chunk == 0 then return end
    for _, e in ipairs(chunk) do
      if visit(e[1], e[2]) == false then return end
    end
    start = '(' .. chunk[#chunk][1]
  end
end
-- Moves agent's queue entries enqueued at or before the cutoff and not leased right now to its
-- dead letters with reason 'expired', at most `limit`; returns the number moved.
local function expire_queue(agent, cutoff, now_s, limit)
  local now = tonumber(now_s)
  local q, L, D, M, X = keys(agent)
  if redis.call('EXISTS', q) == 0 then return 0 end
  local moved = 0
  scan(q, function(id, fields)
    if moved >= limit or (tonumber(field(fields, 'at')) or 0) > cutoff then return false end
    local deadline = redis.call('ZSCORE', L, id)
    if not (deadline and tonumber(deadline) > now) then
      local attempt = get_meta(M, id)
      bury(q, L, D, M, X, id, fields, attempt or 0, 'expired', now_s)
      moved = moved + 1
    end
    return true
  end)
  return moved
end
local function quarantine_entry(id, fields, with_body)
  local body = field(fields, 'body')
  local out = {id, field(fields, 'source'), field(fields, 'reason'), field(fields, 'version'),
               field(fields, 'at'), field(fields, 'headers'), string.len(body)}
  if with_body then out[8] = body end
  return out
end
)lua";

// Lists quarantine entries. ARGV: P, source ('' = all), limit, with bodies ('1'/'0'), ids...
// Returns {id, source, reason, version, at, headers, body size[, body]} per entry.
inline constexpr char kListQuarantine[] = R"lua(
local source, limit, with_body = ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local Q = P .. 'quarantine'
local out = {}
local function take(id, fields)
  if #out >= limit then return false end
  if source == '' or field(fields, 'source') == source then
    out[#out + 1] = quarantine_entry(id, fields, with_body)
  end
  return true
end
if #ARGV > 4 then
  for i = 5, #ARGV do
    local e = redis.call('XRANGE', Q, ARGV[i], ARGV[i])[1]
    if e and take(e[1], e[2]) == false then break end
  end
else
  scan(Q, take)
end
return out
)lua";

// Deletes quarantine entries. ARGV: P, source ('' = all), ids... Returns the number deleted.
inline constexpr char kDeleteQuarantine[] = R"lua(
local source = ARGV[2]
local Q = P .. 'quarantine'
local deleted = 0
local function drop(id, fields)
  if source == '' or field(fields, 'source') == source then
    deleted = deleted + redis.call('XDEL', Q, id)
  end
  return true
end
if #ARGV > 2 then
  for i = 3, #ARGV do
    local e = redis.call('XRANGE', Q, ARGV[i], ARGV[i])[1]
    if e then drop(e[1], e[2]) end
  end
else
  scan(Q, drop)
end
return deleted
)lua";

// Deletes the oldest entries of one stream whose `at` is <= the cutoff, at most `limit`.
// ARGV: P, key suffix (e.g. 'archive', 'dead:{A}'), cutoff, limit. Returns the number deleted.
inline constexpr char kTrimByAge[] = R"lua(
local key, cutoff, limit = P .. ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local deleted = 0
scan(key, function(id, fields)
  if deleted >= limit or (tonumber(field(fields, 'at')) or 0) > cutoff then return false end
  deleted = deleted + redis.call('XDEL', key, id)
  return true
end)
return deleted
)lua";

// The archive's sweep. First the pin: the oldest archive id a queue entry refers to (the first
// ref entry of each queue in P..'queues'), or the id after the archive's last one; it is stored
// in P..'archive:pin' for the commits' MINID trimming. Every id it names stays valid: later
// commits only refer to newer entries. A queue whose first 1,000 entries hold no ref (a backlog
// written before refs, a large replay) pins everything this time (reading more would hold Redis
// up: their bytes come along). Then deletes the oldest archive entries whose `at` is <= the
// cutoff and whose id is below the pin, at most `limit`.
// ARGV: P, cutoff (us), limit. Returns the number deleted.
inline constexpr char kTrimArchive[] = R"lua(
local cutoff, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local A, S = P .. 'archive', P .. 'queues'
local pin = '0-1'  -- the id after the last one ever generated: later commits refer above it
if redis.call('EXISTS', A) == 1 then
  local ms, seq = string.match(field(redis.call('XINFO', 'STREAM', A), 'last-generated-id'),
                               '^(%d+)-(%d+)$')
  if ms then pin = ms .. '-' .. string.format('%d', tonumber(seq) + 1) end
end
for _, agent in ipairs(redis.call('SMEMBERS', S)) do
  local q = keys(agent)
  if redis.call('EXISTS', q) == 0 then
    redis.call('SREM', S, agent)
  else
    local oldest, seen, start = nil, 0, '-'
    while not oldest do
      local chunk = redis.call('XRANGE', q, start, '+', 'COUNT', 200)
      if #chunk == 0 then break end
      for _, e in ipairs(chunk) do
        local ref = field(e[2], 'ref')
        if ref ~= '' then oldest = ref break end
      end
      seen = seen + #chunk
      if not oldest and seen >= 1000 then oldest = '0-0' end
      start = '(' .. chunk[#chunk][1]
    end
    if oldest and id_less(oldest, pin) then pin = oldest end
  end
end
redis.call('SET', P .. 'archive:pin', pin)
local deleted = 0
scan(A, function(id, fields)
  if deleted >= limit or not id_less(id, pin) or (tonumber(field(fields, 'at')) or 0) > cutoff then
    return false
  end
  deleted = deleted + redis.call('XDEL', A, id)
  return true
end)
return deleted
)lua";

// Moves one agent's queue entries enqueued at or before the cutoff and not leased right now to its
// dead letters with reason 'expired', at most `limit`. ARGV: P, agent, cutoff, now, limit.
// Returns the number moved.
inline constexpr char kExpireQueue[] = R"lua(
return expire_queue(ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]))
)lua";

// kExpireQueue for every agent a commit wrote a ref for (P..'queues') that is not declared: an
// agent removed from the config must not keep its backlog, nor pin the archive, forever.
// ARGV: P, cutoff, now, limit, declared agents... Returns the number moved.
inline constexpr char kExpireUndeclaredQueues[] = R"lua(
local cutoff, now_s, limit = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local declared = {}
for i = 5, #ARGV do declared[ARGV[i]] = true end
local moved = 0
for _, agent in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  if not declared[agent] then moved = moved + expire_queue(agent, cutoff, now_s, limit) end
end
return moved
)lua";

// Erases one recipient's events. ARGV: P, needle (the encoded recipient_key field, see
// router/store/lifecycle_match.h), the lower-cased address, agents... Archive, each agent's queue
// (with its lease/delay/meta entries) and dead letters: entries whose event bytes contain the
// needle, and queue entries that refer to an erased archive entry. Also the queues and dead
// letters of every agent in P..'queues' (agents removed from the config). Quarantine: bodies that
// mention the address (the rules of BodyMentionsAddress).
// Returns the number of entries deleted.
inline constexpr char kPurgeRecipient[] = R"lua(
local needle, address = ARGV[2], ARGV[3]
local deleted = 0
local function has_event(fields)
  return string.find(field(fields, 'event'), needle, 1, true) ~= nil
end
-- The out-of-line bytes an erased event named (redis_store.cc BlobKey), unless another event
-- still names them.
local function release_blobs(event_id)
  local E = P .. 'eventblobs:' .. event_id
  for _, sha in ipairs(redis.call('SMEMBERS', E)) do
    local R = P .. 'blobrefs:' .. sha
    redis.call('SREM', R, event_id)
    if redis.call('SCARD', R) == 0 then redis.call('DEL', R, P .. 'blob:' .. sha) end
  end
  redis.call('DEL', E)
end
local erased = {}  -- archive ids erased: the queue entries referring to them go too
scan(P .. 'archive', function(id, fields)
  if has_event(fields) then
    deleted = deleted + redis.call('XDEL', P .. 'archive', id)
    release_blobs(field(fields, 'id'))
    erased[id] = true
  end
  return true
end)
-- The agents given, and every other agent a commit wrote a ref for (its queue may refer to what
-- was erased above).
local agents, listed = {}, {}
for i = 4, #ARGV do
  if not listed[ARGV[i]] then agents[#agents + 1], listed[ARGV[i]] = ARGV[i], true end
end
for _, agent in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  if not listed[agent] then agents[#agents + 1], listed[agent] = agent, true end
end
for _, agent in ipairs(agents) do
  local q, L, D, M, X = keys(agent)
  if redis.call('EXISTS', q) == 1 then
    scan(q, function(id, fields)
      if erased[field(fields, 'ref')] or has_event(fields) then
        redis.call('XACK', q, GROUP, id)
        deleted = deleted + redis.call('XDEL', q, id)
        forget(L, D, M, id)
      end
      return true
    end)
  end
  scan(X, function(id, fields)
    if has_event(fields) then deleted = deleted + redis.call('XDEL', X, id) end
    return true
  end)
end
local function local_char(c) return c ~= '' and (string.find(c, '^[%w._%%+-]') or string.byte(c) >= 128) end
local function domain_char(c) return c ~= '' and (string.find(c, '^[%w.-]') or string.byte(c) >= 128) end
local function mentions(body, what)
  local from = 1
  while true do
    local s, e = string.find(body, what, from, true)
    if not s then return false end
    if not local_char(string.sub(body, s - 1, s - 1)) and not domain_char(string.sub(body, e + 1, e + 1)) then
      return true
    end
    from = s + 1
  end
end
local encoded = string.gsub(address, '@', '%%40')
local Q = P .. 'quarantine'
scan(Q, function(id, fields)
  local body = string.lower(field(fields, 'body'))
  if mentions(body, address) or mentions(body, encoded) then
    deleted = deleted + redis.call('XDEL', Q, id)
  end
  return true
end)
return deleted
)lua";

// Start check (RedisStore::Create): the commands the scripts above run, each with a key of the
// store (KEYS[1]) and its channel (ARGV[1]) where it takes one, asked of the ACL without running
// (redis.acl_check_cmd, Redis 7.0+). Returns the names refused, none when all are allowed.
inline constexpr char kAclProbe[] = R"lua(
local k, ch = KEYS[1], ARGV[1]
local commands = {
  {'EXISTS', k}, {'GET', k}, {'SET', k, 'v'}, {'DEL', k},
  {'HGET', k, 'f'}, {'HSET', k, 'f', 'v'}, {'HDEL', k, 'f'},
  {'SADD', k, 'm'}, {'SREM', k, 'm'}, {'SMEMBERS', k}, {'SCARD', k},
  {'ZADD', k, '1', 'm'}, {'ZREM', k, 'm'}, {'ZSCORE', k, 'm'}, {'ZCOUNT', k, '0', '1'},
  {'ZRANGE', k, '0', '1'}, {'ZRANGEBYSCORE', k, '0', '1'},
  {'XADD', k, '*', 'f', 'v'}, {'XDEL', k, '0-1'}, {'XLEN', k}, {'XRANGE', k, '-', '+'},
  {'XACK', k, 'g', '0-1'}, {'XCLAIM', k, 'g', 'c', '0', '0-1'}, {'XPENDING', k, 'g'},
  {'XGROUP', 'CREATE', k, 'g', '$'}, {'XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', k, '>'},
  {'XINFO', 'STREAM', k}, {'PUBLISH', ch, 'm'}, {'PUBSUB', 'NUMSUB', ch},
}
local denied = {}
for _, command in ipairs(commands) do
  if not redis.acl_check_cmd(unpack(command)) then table.insert(denied, command[1]) end
end
return denied
)lua";

}  // namespace switchboard::store::redis_scripts
