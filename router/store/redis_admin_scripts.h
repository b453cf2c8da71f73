#pragma once

// The Lua scripts of RedisStore's operator replays (store.h "Operator replays"), in the key
// layout of redis_scripts.h (their kPrelude is prepended: P, keys(agent), field). Sent as EVAL
// with the text each time: operator actions are rare, and no script cache has to be managed.
// A replayed entry is a fresh stream entry of q:{A} (fields id, event, rules = 'replay', at):
// the next claim is attempt 1. It holds its own copy of the bytes, not a ref: an archive ref
// older than the queue's first one would escape the archive's pin (kTrimArchive).

namespace switchboard::store::redis_scripts {

// Helpers for the scripts below.
inline constexpr char kReplayPrelude[] = R"lua(
local function ensure_group(q)
  if redis.call('EXISTS', q) == 0 then
    redis.call('XGROUP', 'CREATE', q, GROUP, '0', 'MKSTREAM')
  end
end
local function wanted(ids)
  if #ids == 0 then return nil end
  local set = {}
  for _, id in ipairs(ids) do set[id] = true end
  return set
end
)lua";

// Moves dead letters back to the queue (replay) or deletes them (purge).
// ARGV: P, agent, op ('replay' | 'purge'), now, then event ids (none: all). Returns the count.
inline constexpr char kDeadLetters[] = R"lua(
local agent, op, now = ARGV[2], ARGV[3], ARGV[4]
local ids = {}
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
local want = wanted(ids)
local q, L, D, M, X = keys(agent)
local n = 0
for _, entry in ipairs(redis.call('XRANGE', X, '-', '+')) do
  local fields = entry[2]
  local id = field(fields, 'id')
  if want == nil or want[id] then
    if op == 'replay' then
      ensure_group(q)
      redis.call('XADD', q, '*', 'id', id, 'event', field(fields, 'event'), 'rules', 'replay',
                 'at', now)
    end
    redis.call('XDEL', X, entry[1])
    n = n + 1
  end
end
return n
)lua";

// Enqueues archive entries to one agent unless it already has the event id queued (entries of
// q:{A} are deleted once acked or dead-lettered, so the stream holds exactly what is queued).
// ARGV: P, agent, now, then archive stream ids. Returns the count enqueued.
inline constexpr char kEnqueueArchived[] = R"lua(
local agent, now = ARGV[2], ARGV[3]
local q = keys(agent)
local queued = {}
if redis.call('EXISTS', q) == 1 then
  for _, entry in ipairs(redis.call('XRANGE', q, '-', '+')) do
    queued[field(entry[2], 'id')] = true
  end
end
local n = 0
for i = 4, #ARGV do
  local found = redis.call('XRANGE', P .. 'archive', ARGV[i], ARGV[i])
  if #found == 1 then
    local fields = found[1][2]
    local id = field(fields, 'id')
    if not queued[id] then
      ensure_group(q)
      redis.call('XADD', q, '*', 'id', id, 'event', field(fields, 'event'), 'rules', 'replay',
                 'at', now)
      queued[id] = true
      n = n + 1
    end
  end
end
return n
)lua";

}  // namespace switchboard::store::redis_scripts
