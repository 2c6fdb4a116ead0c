// The Redis side of --unique keys, spool claims, the spool and the --on-change state of a fleet
// pool, as Lua scripts that each run atomically on the server, judging leases by its clock.
//
// Keys of pool P, one hash tag with the fleet leases that hold the locks (pool "P:trig"):
//   owners  hash  "<scope>\n<key>" -> the lease id that holds the lock (live while its lease is)
//   spool   hash  entry id -> entry JSON
//   change:<digest>  string, the last result of one check
import { poolKeys } from '../pool/redis/scripts.js';

/** The fleet pool whose leases hold this pool's locks: same tag as the keys below. */
export const lockPoolName = (pool: string): string => `${pool}:trig`;

export interface TriggerKeys {
  owners: string;
  spool: string;
  /** The lock pool's lease expiries (server ms), which say whether an owner is alive. */
  expiry: string;
  change(digest: string): string;
}

export function triggerKeys(pool: string): TriggerKeys {
  const tag = `warden:{${lockPoolName(pool)}}`;
  const expiry = poolKeys(lockPoolName(pool))[2];
  return { owners: `${tag}:owners`, spool: `${tag}:spool`, expiry, change: (digest) => `${tag}:change:${digest}` };
}

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function live(id)
  if not id then return false end
  local e = redis.call('ZSCORE', KEYS[2], id)
  return e ~= false and e ~= nil and tonumber(e) >= now
end
`;

/**
 * Take lock ARGV[1] for lease ARGV[2] (KEYS: owners, expiry): 1, or 0 while another live lease
 * holds it. A few other locks whose leases are gone are swept on the way.
 */
export const LOCK = `${PRELUDE}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[2] and live(cur) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local some = redis.call('HRANDFIELD', KEYS[1], 8, 'WITHVALUES')
for i = 1, #some, 2 do
  if not live(some[i + 1]) then redis.call('HDEL', KEYS[1], some[i]) end
end
return 1
`;

/** Let lock ARGV[1] go if lease ARGV[2] holds it (KEYS: owners). */
export const UNLOCK = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`;

/** For each lock named in ARGV, 1 while a live lease holds it, else 0 (KEYS: owners, expiry). */
export const HELD = `${PRELUDE}
local out = {}
for i = 1, #ARGV do
  out[i] = live(redis.call('HGET', KEYS[1], ARGV[i])) and 1 or 0
end
return out
`;

/**
 * Spool entries whose claim no live lease holds (KEYS: spool, expiry, owners):
 * {id, json, id, json, ...}.
 */
export const ORPHANS = `${PRELUDE}
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if not live(redis.call('HGET', KEYS[3], 'spool\\n' .. all[i])) then
    out[#out + 1] = all[i]; out[#out + 1] = all[i + 1]
  end
end
return out
`;

/**
 * Rewrite entry ARGV[1] as ARGV[2] while a live lease holds its claim, lease ARGV[3] when given
 * (else any: a claim inherited by a runner), and the entry is still there (KEYS: spool, expiry,
 * owners): 1, else 0 (dropped, or the claim lapsed, perhaps to another host).
 */
export const WRITE_CLAIMED = `${PRELUDE}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local owner = redis.call('HGET', KEYS[3], 'spool\\n' .. ARGV[1])
if not live(owner) or (ARGV[3] ~= '' and owner ~= ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** Rewrite entry ARGV[1] as ARGV[2] if it is still there (KEYS: spool). */
export const REWRITE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * \`status --drop\`: remove entry ARGV[1] unless its job has started and still holds its claim
 * (KEYS: spool, expiry, owners): 'dropped', 'started' or 'gone', then the entry's JSON. A start
 * cut short with nothing left holding it may be dropped: the user decides what no one can know.
 */
export const DROP = `${PRELUDE}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {'gone', ''} end
local ok, entry = pcall(cjson.decode, cur)
if ok and type(entry) == 'table' and entry.starting and live(redis.call('HGET', KEYS[3], 'spool\\n' .. ARGV[1])) then return {'started', cur} end
redis.call('HDEL', KEYS[1], ARGV[1])
return {'dropped', cur}
`;

/** Set KEYS[1] to ARGV[2] if it still holds ARGV[1] ('' for none): 1, else 0. */
export const COMPARE_AND_SET = `
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '' end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;
