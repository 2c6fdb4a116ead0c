// The Redis side of a fleet pool, as small Lua scripts that each run atomically on the server.
// Every expiry is judged by the server's own clock (TIME), never by a host's.
//
// Keys of pool P (one hash tag, so a cluster keeps them together):
//   slots   hash  slot index -> lease id          leases  hash  lease id -> "slot:token:grantedAt"
//   expiry  zset  lease id -> expiry (server ms)  info    hash  lease id -> holder/waiter JSON
//   queue   zset  waiting lease id -> ticket      waiting zset  waiting lease id -> expiry
//   token   counter of grants (fencing tokens)    epoch   names this generation of the data
//   ticket  counter of waiters (first come, first served)

export const KEY_NAMES = ['slots', 'leases', 'expiry', 'info', 'queue', 'waiting', 'token', 'epoch', 'ticket'] as const;

export const poolKeys = (pool: string): string[] => KEY_NAMES.map((k) => `warden:{${pool}}:${k}`);
/** Where releases are announced, to wake waiters on every host. */
export const freeChannel = (pool: string): string => `warden:{${pool}}:free`;
/** Claimed by the one host that runs a tick's check. */
export const tickKey = (pool: string, scope: string, tick: string): string => `warden:{${pool}}:tick:${scope}:${tick}`;

const PRELUDE = `
local K_SLOTS, K_LEASES, K_EXPIRY, K_INFO, K_QUEUE, K_WAITING, K_TOKEN, K_EPOCH, K_TICKET =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Whole numbers up to 2^53 as digits (tostring would print large ones in exponent form).
local function digits(n) return string.format('%.0f', n) end
-- Tokens start from the server's clock in microseconds: a counter lost with the data starts
-- again above every token granted before (unless more than a million were granted a second).
local function next_token()
  if redis.call('EXISTS', K_TOKEN) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', K_TOKEN, digits(tonumber(t[1]) * 1000000 + tonumber(t[2])))
  end
  return redis.call('INCR', K_TOKEN)
end
-- Forget a lease (and its slot, if the slot is still its own); true if it was held.
local function drop(id)
  local rec = redis.call('HGET', K_LEASES, id)
  if rec then
    local slot = string.match(rec, '^(%d+):')
    if redis.call('HGET', K_SLOTS, slot) == id then redis.call('HDEL', K_SLOTS, slot) end
    redis.call('HDEL', K_LEASES, id)
  end
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('HDEL', K_INFO, id)
  return rec ~= false and rec ~= nil
end
local function unqueue(id)
  local n = redis.call('ZREM', K_QUEUE, id)
  redis.call('ZREM', K_WAITING, id)
  if n == 1 and redis.call('HEXISTS', K_LEASES, id) == 0 then redis.call('HDEL', K_INFO, id) end
  return n == 1
end
-- Leases and waiters whose host stopped renewing them lapse here, by the server's clock.
local function purge(now)
  local n = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', '(' .. now)) do drop(id); n = n + 1 end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_WAITING, '-inf', '(' .. now)) do unqueue(id); n = n + 1 end
  return n
end
`;

/**
 * Take a slot for lease ARGV[1] with cap ARGV[2] (-1: unlimited), held ARGV[3] ms.
 * ARGV[4] '1' joins (or stays in) the queue when not granted; its place lapses after ARGV[5] ms
 * unless asked again. ARGV[6]: info JSON; ARGV[7]: the channel; ARGV[8]: an epoch if none yet.
 * Granted: {1, slot, token, epoch}. Not: {0, live, ahead, epoch}.
 * Waiters are served by ticket: a slot goes to a request only when fewer than the free slots
 * are queued ahead of it, so a newcomer never overtakes the line.
 */
export const ACQUIRE = `${PRELUDE}
local id, cap, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
if purge(now) > 0 then redis.call('PUBLISH', ARGV[7], 'lapsed') end
local epoch = redis.call('GET', K_EPOCH)
if not epoch then epoch = ARGV[8]; redis.call('SET', K_EPOCH, epoch) end
local held = redis.call('HGET', K_LEASES, id)
if held then
  local slot, token = string.match(held, '^(%d+):(%d+):')
  return {1, tonumber(slot), token, epoch}
end
local live = redis.call('HLEN', K_LEASES)
local rank = redis.call('ZRANK', K_QUEUE, id)
local ahead = rank or redis.call('ZCARD', K_QUEUE)
if cap < 0 or live + ahead < cap then
  local top = live
  if cap >= 0 and cap - 1 < top then top = cap - 1 end
  for i = 0, top do
    if redis.call('HEXISTS', K_SLOTS, i) == 0 then
      local token = digits(next_token())
      redis.call('HSET', K_SLOTS, i, id)
      redis.call('HSET', K_LEASES, id, i .. ':' .. token .. ':' .. digits(now))
      redis.call('HSET', K_INFO, id, ARGV[6])
      redis.call('ZADD', K_EXPIRY, now + ttl, id)
      redis.call('ZREM', K_QUEUE, id)
      redis.call('ZREM', K_WAITING, id)
      return {1, i, token, epoch}
    end
  end
end
if ARGV[4] == '1' then
  if not rank then
    redis.call('ZADD', K_QUEUE, redis.call('INCR', K_TICKET), id)
    redis.call('HSET', K_INFO, id, ARGV[6])
  end
  redis.call('ZADD', K_WAITING, now + tonumber(ARGV[5]), id)
end
return {0, live, ahead, epoch}
`;

/** Give up lease (or place in the queue) ARGV[1] and wake the waiters. Returns 1 if it was held. */
export const RELEASE = `${PRELUDE}
local held = drop(ARGV[1])
local queued = unqueue(ARGV[1])
if held or queued then redis.call('PUBLISH', ARGV[2], 'free') end
return held and 1 or 0
`;

/**
 * Renew leases: ARGV[1] the epoch they were granted in, ARGV[2] the channel, then pairs of
 * lease id and lease ms. {'reset', epoch} when the data is not the one they were granted in
 * (a server that restarted empty); else one status per lease: ok, expired (past its expiry by
 * the server's clock: dropped now), or gone (someone else dropped it).
 */
export const RENEW = `${PRELUDE}
local epoch = redis.call('GET', K_EPOCH)
if epoch ~= ARGV[1] then return {'reset', epoch or ''} end
local now = now_ms()
local out, freed = {}, false
for k = 3, #ARGV, 2 do
  local id = ARGV[k]
  local exp = redis.call('ZSCORE', K_EXPIRY, id)
  if not exp then
    out[#out + 1] = 'gone'
  elseif tonumber(exp) < now then
    drop(id); freed = true
    out[#out + 1] = 'expired'
  else
    redis.call('ZADD', K_EXPIRY, now + tonumber(ARGV[k + 1]), id)
    out[#out + 1] = 'ok'
  end
end
if freed then redis.call('PUBLISH', ARGV[2], 'free') end
return out
`;

/**
 * After the server lost its data: put leases back. ARGV[1]: an epoch to use if none is set,
 * then per lease: id, slot, token, lease ms, info. A slot taken meanwhile moves the lease to the
 * lowest free index (even past a cap: the count then shows the excess and admits no one until
 * it drains). The token counter is raised past every token put back. Returns the epoch.
 */
export const REASSERT = `${PRELUDE}
local epoch = redis.call('GET', K_EPOCH)
if not epoch then epoch = ARGV[1]; redis.call('SET', K_EPOCH, epoch) end
local now = now_ms()
for k = 2, #ARGV, 5 do
  local id, slot, token, ttl, info = ARGV[k], ARGV[k + 1], ARGV[k + 2], tonumber(ARGV[k + 3]), ARGV[k + 4]
  if redis.call('HEXISTS', K_LEASES, id) == 0 then
    if redis.call('HEXISTS', K_SLOTS, slot) == 1 then
      local i = 0
      while redis.call('HEXISTS', K_SLOTS, i) == 1 do i = i + 1 end
      slot = tostring(i)
    end
    redis.call('HSET', K_SLOTS, slot, id)
    redis.call('HSET', K_LEASES, id, slot .. ':' .. token .. ':' .. digits(now))
    redis.call('HSET', K_INFO, id, info)
    redis.call('ZADD', K_EXPIRY, now + ttl, id)
    local current = redis.call('GET', K_TOKEN)
    if not current or #current < #token or (#current == #token and current < token) then redis.call('SET', K_TOKEN, token) end
  end
end
return epoch
`;

/** Update the holder record of lease ARGV[1] (a job started in it); nothing if it is gone. */
export const DESCRIBE = `${PRELUDE}
if redis.call('HEXISTS', K_LEASES, ARGV[1]) == 0 then return 0 end
redis.call('HSET', K_INFO, ARGV[1], ARGV[2])
return 1
`;

/** Everything `status` shows, read at one instant: {now, slots, leases, info, expiry, queue}. */
export const SNAPSHOT = `${PRELUDE}
local now = now_ms()
purge(now)
return {digits(now), redis.call('HGETALL', K_SLOTS), redis.call('HGETALL', K_LEASES), redis.call('HGETALL', K_INFO),
  redis.call('ZRANGE', K_EXPIRY, 0, -1, 'WITHSCORES'), redis.call('ZRANGE', K_QUEUE, 0, -1)}
`;
