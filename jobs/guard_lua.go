package jobs

import "github.com/redis/go-redis/v9"

// Lua scripts of the mass-deprovisioning guard (see Guard for the key
// layout). Every script takes the five keys in guardKeys.all's order:
//
//	KEYS[1]  state     HASH
//	KEYS[2]  closes    ZSET task id → ms of its admission (the window)
//	KEYS[3]  held      HASH task id → queue
//	KEYS[4]  approved  ZSET task id → ms of its approval
//	KEYS[5]  rejected  ZSET task id → ms of its rejection
//
// and starts with the same two arguments:
//
//	ARGV[1]  now in ms; 0 = read Redis TIME (one clock for every process)
//	ARGV[2]  how long approved and rejected task ids are remembered (ms)
//
// The keys share the hash tag {close-guard}, so the scripts run on Redis
// Cluster. They read Redis TIME and then write, which needs effects
// replication: the default since Redis 5, the only mode since Redis 7.
// Every reply is an array of strings (numbers formatted with num), so the
// client parses one type.
const guardLuaPrelude = `
local now = tonumber(ARGV[1])
if now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local keep = tonumber(ARGV[2])
local function num(x) return string.format('%.0f', x) end
-- settle ends a trip: the held closes are remembered in the sorted set key
-- (approved or rejected) for keep ms, the held set and the trip are cleared;
-- it returns the held closes as id, queue pairs.
local function settle(state, heldKey, key)
  local held = redis.call('HGETALL', heldKey)
  for i = 1, #held, 2 do
    redis.call('ZADD', key, num(now), held[i])
  end
  if #held > 0 then
    redis.call('PEXPIRE', key, num(keep))
  end
  redis.call('DEL', heldKey)
  redis.call('HDEL', state, 'tripped_at', 'threshold', 'count', 'tripped_task')
  return held
end
`

// Reply codes of the admit and check scripts.
const (
	guardCodeAdmitted = "admitted" // counted in the window
	guardCodeAgain    = "again"    // already admitted (or approved): not counted again
	guardCodeApproved = "approved" // admitted under an approval, not counted
	guardCodeTripped  = "tripped"  // this call tripped the guard; held
	guardCodeHeld     = "held"     // the guard is tripped; held
	guardCodeRejected = "rejected" // an operator rejected this close
	guardCodePass     = "pass"     // check: go on to the look-ups
	guardCodeNotTrip  = "not_tripped"
	guardCodeDone     = "done" // approve or reject applied
)

var (
	// guardAdmitScript admits, holds or trips for one close about to be
	// written.
	//
	//	ARGV[3] window ms, ARGV[4] threshold, ARGV[5] task id, ARGV[6] queue
	//
	// Reply: code, closes in the window (after this one when counted),
	// threshold, tripped_at (ms; "0" unless tripped).
	guardAdmitScript = redis.NewScript(guardLuaPrelude + `
local window, threshold, id, queue = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', num(now - window))
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', num(now - keep))
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', num(now - keep))
redis.call('HSET', KEYS[1], 'window_ms', num(window), 'limit', num(threshold))
local count = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[5], id) then
  return {'rejected', num(count), num(threshold), '0'}
end
if redis.call('ZSCORE', KEYS[2], id) or redis.call('ZSCORE', KEYS[4], id) then
  return {'again', num(count), num(threshold), '0'}
end
local st = redis.call('HMGET', KEYS[1], 'tripped_at', 'threshold', 'approved_until')
local approvedUntil = tonumber(st[3])
if approvedUntil and now < approvedUntil then
  redis.call('ZADD', KEYS[4], num(now), id)
  redis.call('PEXPIRE', KEYS[4], num(keep))
  return {'approved', num(count), num(threshold), '0'}
end
if st[1] then
  redis.call('HSET', KEYS[3], id, queue)
  return {'held', num(count), st[2] or num(threshold), st[1]}
end
if count + 1 > threshold then
  redis.call('HSET', KEYS[1], 'tripped_at', num(now), 'threshold', num(threshold), 'count', num(count + 1),
    'tripped_task', id)
  redis.call('HSET', KEYS[3], id, queue)
  return {'tripped', num(count + 1), num(threshold), num(now)}
end
redis.call('ZADD', KEYS[2], num(now), id)
redis.call('PEXPIRE', KEYS[2], num(window))
return {'admitted', num(count + 1), num(threshold), '0'}`)

	// guardCheckScript is the pre-check before a close's look-ups: it holds
	// the close while the guard is tripped, without counting it.
	//
	//	ARGV[3] task id, ARGV[4] queue
	//
	// Reply: code, closes in the window, threshold of the trip.
	guardCheckScript = redis.NewScript(guardLuaPrelude + `
local id = ARGV[3]
local r = redis.call('ZSCORE', KEYS[5], id)
if r and tonumber(r) > now - keep then
  return {'rejected', '0', '0'}
end
local st = redis.call('HMGET', KEYS[1], 'tripped_at', 'threshold', 'window_ms', 'approved_until')
if not st[1] then
  return {'pass', '0', '0'}
end
local approvedUntil = tonumber(st[4])
if approvedUntil and now < approvedUntil then
  return {'pass', '0', '0'}
end
local window = tonumber(st[3]) or 0
local s = redis.call('ZSCORE', KEYS[2], id)
if s and tonumber(s) > now - window then
  return {'pass', '0', '0'}
end
local a = redis.call('ZSCORE', KEYS[4], id)
if a and tonumber(a) > now - keep then
  return {'pass', '0', '0'}
end
redis.call('HSET', KEYS[3], id, ARGV[4])
local count = redis.call('ZCOUNT', KEYS[2], '(' .. num(now - window), '+inf')
return {'held', num(count), st[2] or '0'}`)

	// guardStatusScript reads the state without changing it.
	//
	//	ARGV[3] window ms to count with when the worker has stored none
	//
	// Reply: now, closes in the window, window ms, then the state fields of
	// guardStatusFields ("" when unset), then the held tasks as id, queue
	// pairs.
	guardStatusScript = redis.NewScript(guardLuaPrelude + `
local fields = {'tripped_at', 'threshold', 'count', 'tripped_task', 'limit', 'approved_until', 'approved_at',
  'approved_by', 'rejected_at', 'rejected_by'}
local st = redis.call('HMGET', KEYS[1], 'window_ms', unpack(fields))
local window = tonumber(st[1]) or tonumber(ARGV[3])
local count = redis.call('ZCOUNT', KEYS[2], '(' .. num(now - window), '+inf')
local out = {num(now), num(count), num(window)}
for i = 1, #fields do
  out[#out + 1] = st[i + 1] or ''
end
local held = redis.call('HGETALL', KEYS[3])
for i = 1, #held do
  out[#out + 1] = held[i]
end
return out`)

	// guardApproveScript clears a trip: the held closes are approved (they
	// pass whenever they run, within the memory of decisions) and every
	// close until approved_until is admitted without being counted.
	//
	//	ARGV[3] approval ms (0: the worker's window), ARGV[4] by,
	//	ARGV[5] window ms when the worker has stored none
	//
	// Reply: code, now, approved_until, then the released tasks as id,
	// queue pairs.
	guardApproveScript = redis.NewScript(guardLuaPrelude + `
local st = redis.call('HMGET', KEYS[1], 'tripped_at', 'window_ms')
if not st[1] then
  return {'not_tripped', num(now), '0'}
end
local d = tonumber(ARGV[3])
if d <= 0 then
  d = tonumber(st[2]) or tonumber(ARGV[5])
end
local held = settle(KEYS[1], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'approved_until', num(now + d), 'approved_at', num(now), 'approved_by', ARGV[4])
local out = {'done', num(now), num(now + d)}
for i = 1, #held do
  out[#out + 1] = held[i]
end
return out`)

	// guardRejectScript clears a trip and drops the held closes: they are
	// remembered as rejected, so one that still runs is archived.
	//
	//	ARGV[3] by
	//
	// Reply: code, now, then the dropped tasks as id, queue pairs.
	guardRejectScript = redis.NewScript(guardLuaPrelude + `
if not redis.call('HGET', KEYS[1], 'tripped_at') then
  return {'not_tripped', num(now)}
end
local held = settle(KEYS[1], KEYS[3], KEYS[5])
redis.call('HSET', KEYS[1], 'rejected_at', num(now), 'rejected_by', ARGV[3])
local out = {'done', num(now)}
for i = 1, #held do
  out[#out + 1] = held[i]
end
return out`)
)
