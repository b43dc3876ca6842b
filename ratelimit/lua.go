package ratelimit

import "github.com/redis/go-redis/v9"

// Redis layout of one budget key (all keys share the Redis Cluster hash tag
// {key}, so each script touches a single slot):
//
//	<prefix>{key}                  the state record (a string, see below)
//	<prefix>{key}:claims:critical  sorted set of critical waiters' claims
//	<prefix>{key}:claims:default   sorted set of default waiters' claims
//
// The state record is 15 little-endian float64 values packed with Lua's
// struct library (integers, exact below 2^53; times in Unix milliseconds).
// Reading and writing one packed value costs a fraction of a 13-field hash
// (HMGET, tonumber, HSET), which is what keeps an acquisition as cheap as
// redis_rate's GCRA. Read it with Limiter.State. In order:
//
//	we   end of the hourly window (DocuSign's X-RateLimit-Reset)
//	wo   1 when we comes from an observation, 0 while it is the aligned default
//	lim  hourly limit (observed, or the configured default)
//	rem  shared view of the remaining hourly budget
//	ar   remaining at the anchor of the pacing line
//	at   time of the anchor (window start, or the observation that re-drew the line)
//	g    tokens granted by the limiter in this window (all processes)
//	lo   lowest remaining observed in this window (-1: none yet)
//	lg   g at that observation
//	fa   foreign consumption estimated in this window (signed accumulator)
//	bs   start of the current burst window
//	bl   burst limit
//	br   shared view of the remaining burst budget in the current burst window
//	ce   latest expiry of a critical claim (no claim can count after it)
//	de   latest expiry of a default claim
//
// The scripts read Redis TIME and then write, which needs effects
// replication: the default since Redis 5, the only mode since Redis 7.
//
// The record gets a TTL of 2 × Window whenever a window starts (within a
// window it is overwritten in place with SETRANGE, cheaper than SET), so an
// idle key vanishes and its defaults apply again. A claim is a member (waiter ID) whose score is its expiry; ce
// and de let an acquisition skip counting claims when none can be live.
//
// Arguments are packed like the record (little-endian float64 values) so a
// call carries three arguments instead of eighteen:
//
//	ARGV[1]  configuration: window ms, burst window ms, default limit,
//	         default burst limit, reserve fraction, burst reserve fraction,
//	         TTL of the record (ms)
//	ARGV[2]  the call: now (ms; 0 = read Redis TIME), then the script's own
//	         values (CALL, declared by each script)
//	ARGV[3]  the waiter ID (acquire only)
//
// Every reply is one packed string of float64 values: the script's own
// values, then the state tail (see parseState): now, rem, lim, we, wo, ar,
// at, reserve, br, bl, burst window end, burst reserve, g, fa.
const luaPrelude = `
local REC = '<ddddddddddddddd'

local W, B, dlim, dbl, rf, bf, ttl = struct.unpack('<ddddddd', ARGV[1])
ttl = string.format('%d', ttl)
local arg = {struct.unpack(CALL, ARGV[2])}
local now = arg[1]
if now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local K = KEYS[1]

local function reserve(frac, limit)
  if frac <= 0 or limit <= 0 then return 0 end
  return math.floor(frac * limit + 0.5)
end

local we, wo, lim, rem, ar, at, g, lo, lg, fa, bs, bl, br, ce, de
local raw = redis.call('GET', K)
if raw and #raw == 120 then
  we, wo, lim, rem, ar, at, g, lo, lg, fa, bs, bl, br, ce, de = struct.unpack(REC, raw)
end
-- changed: the record must be written; fresh: rewritten whole with a new
-- TTL (a new record or window), else overwritten in place, keeping its TTL.
local changed, fresh = false, false

local function start_window(start)
  rem = lim; ar = lim; at = start
  g = 0; lo = -1; lg = 0; fa = 0
  changed = true
  fresh = true
end

if not we then
  lim = dlim; wo = 0
  we = math.floor(now / W) * W + W
  start_window(we - W)
  bl = dbl; bs = math.floor(now / B) * B; br = bl
  ce = 0; de = 0
end
if now >= we then
  we = we + (math.floor((now - we) / W) + 1) * W
  start_window(we - W)
end
if now >= bs + B then
  bs = math.floor(now / B) * B; br = bl
  changed = true
end

-- floor_at is the remaining budget kept back at t (Pace.Floor).
local function floor_at(res, t)
  if ar <= res or we <= at then return res end
  if t < at then t = at end
  if t > we then t = we end
  return res + (ar - res) * (we - t) / (we - at)
end

local function save()
  if not changed then return end
  local rec = struct.pack(REC, we, wo, lim, rem, ar, at, g, lo, lg, fa, bs, bl, br, ce, de)
  if fresh then
    redis.call('SET', K, rec, 'PX', ttl)
  else
    redis.call('SETRANGE', K, 0, rec)
  end
end

local function reply(fmt, a, b, c, d, res, bres)
  if fmt == 2 then
    return struct.pack('<dddddddddddddddd', a, b,
      now, rem, lim, we, wo, ar, at, res, br, bl, bs + B, bres, g, fa)
  end
  return struct.pack('<dddddddddddddddddd', a, b, c, d,
    now, rem, lim, we, wo, ar, at, res, br, bl, bs + B, bres, g, fa)
end
`

// acquireLua takes n tokens or says when to come back.
//
// Call values after now: n, rank (0 critical, 1 default, 2 low), the
// caller's remaining in-place wait budget (ms), parked hold (ms, < 0: a
// parked request claims nothing), in-place slack (ms), 1 if the waiter may
// hold a claim to clear on grant. ARGV[3] is the waiter ID.
//
// A claim counts while its expiry (score) is after now; expired claims are
// purged whenever a claim is added, and the sets expire with their last
// claim.
//
// Reply: code (0 granted, 1 paced, 2 hourly budget spent, 3 burst budget
// spent, 4 higher priority waiting, 5 too large), time to come back (ms),
// claim (0 none, 1 in place, 2 parked), higher-priority claims counted, then
// the state tail.
const acquireLua = "local CALL = '<ddddddd'" + luaPrelude + `
local n, rank, budget, hold, slack, held = arg[2], arg[3], arg[4], arg[5], arg[6], arg[7] == 1
local id = ARGV[3]

local res = reserve(rf, lim)
local bres = reserve(bf, bl)

local higher = 0
if rank >= 1 and now < ce then
  higher = redis.call('ZCOUNT', KEYS[2], '(' .. string.format('%d', now), '+inf')
end
if rank >= 2 and now < de then
  higher = higher + redis.call('ZCOUNT', KEYS[3], '(' .. string.format('%d', now), '+inf')
end
local own = nil
if rank == 0 then own = KEYS[2] elseif rank == 1 then own = KEYS[3] end

if n > lim - res or n > bl - bres then
  save()
  return reply(4, 5, now, 0, higher, res, bres)
end

if higher == 0 and rem - n >= res and rem - n >= floor_at(res, now) - 1e-6 and br - n >= bres then
  rem = rem - n
  g = g + n
  br = br - n
  changed = true
  if own and held then redis.call('ZREM', own, id) end
  save()
  return reply(4, 0, now, 0, higher, res, bres)
end

-- Denied: when could n tokens be granted, after one token for each
-- higher-priority claim? A time at or past the window end means the next
-- window, whose line starts from the limit at its start.
local need = n + higher
local code = 1
local t
if rem - need >= res then
  if rem - need >= floor_at(res, now) - 1e-6 then
    t = now
  else
    t = math.ceil(we - (rem - need - res) * (we - at) / (ar - res))
  end
end
if t == nil or t >= we then
  code = 2
  t = we + math.ceil(need * W / (lim - res))
end
if br - need < bres and bs + B > t then
  t = bs + B
  code = 3
end
if higher > 0 then
  code = 4
  if t < now + 10 then t = now + 10 end
end
if t < now + 1 then t = now + 1 end

local retry = t - now
local claim = 0
if own then
  local exp
  if retry <= budget then
    exp = now + retry + slack
    claim = 1
  elseif hold >= 0 then
    exp = now + retry + hold
    claim = 2
  end
  if claim > 0 then
    redis.call('ZREMRANGEBYSCORE', own, '-inf', string.format('%d', now))
    redis.call('ZADD', own, string.format('%d', exp), id)
    local want = exp - now + 1000
    if redis.call('PTTL', own) < want then redis.call('PEXPIRE', own, string.format('%d', want)) end
    if rank == 0 and exp > ce then ce = exp; changed = true end
    if rank == 1 and exp > de then de = exp; changed = true end
  end
end
save()
return reply(4, code, t, claim, higher, res, bres)
`

// observeLua merges what a reply said into the shared view.
//
// Call values after now: kind (0 observation, 1 hourly limit hit, 2 burst
// limit hit), has hourly (0/1), limit, remaining, reset (ms, 0 unknown), has
// burst (0/1), burst limit, burst remaining, reply time (ms, 0 = now),
// request time (ms, 0 unknown).
//
// Reply: hourly (0 ignored or absent, 1 merged, 2 replaced the window),
// burst (0 ignored or absent, 1 merged), then the state tail. With no
// observation at all it only rolls the windows over: a read of the state.
const observeLua = "local CALL = '<ddddddddddd'" + luaPrelude + `
local kind, hh, olim, orem, oreset = arg[2], arg[3] == 1, arg[4], arg[5], arg[6]
local hb, obl, obr, oat, osent = arg[7] == 1, arg[8], arg[9], arg[10], arg[11]
if oat <= 0 then oat = now end
if kind == 1 then
  hh = true
  olim = 0
  orem = 0
end

local ah, ab = 0, 0
if hh then
  local tol = math.min(1000, math.floor(W / 4))
  local rel = 'same'
  if oreset > 0 then
    if oreset <= now then rel = 'old'
    elseif math.abs(oreset - we) <= tol then rel = 'same'
    elseif oreset > we then rel = 'new'
    elseif wo == 1 then rel = 'old'
    else rel = 'new' end
  end
  if rel == 'new' then
    we = oreset
    wo = 1
    if olim > 0 then lim = olim end
    rem = orem; ar = orem; at = now
    g = 0; lo = orem; lg = 0; fa = 0
    ah = 2
    changed = true
    fresh = true
  elseif rel == 'same' then
    if oreset > 0 then wo = 1 end
    local base, base_g = lo, lg
    if base < 0 then
      base = lim
      if olim > 0 then base = olim end
      base_g = 0
    end
    if olim > 0 then lim = olim end
    if orem < rem then rem = orem end
    if lo < 0 or orem < lo then
      fa = fa + (base - orem) - (g - base_g)
      lo = orem
      lg = g
    end
    if rem < floor_at(reserve(rf, lim), now) then
      ar = rem
      at = now
    end
    ah = 1
    changed = true
  end
end

if kind == 2 then
  br = 0
  ab = 1
  changed = true
elseif hb then
  if obl > 0 then bl = obl end
  if math.floor(oat / B) * B == bs and (osent <= 0 or math.floor(osent / B) * B == bs) then
    if obr < br then br = obr end
    ab = 1
  end
  if br > bl then br = bl end
  changed = true
end
save()
return reply(2, ah, ab, 0, 0, reserve(rf, lim), reserve(bf, bl))
`

// Compiled scripts (run with EVALSHA, falling back to EVAL on NOSCRIPT).
//
//nolint:gochecknoglobals // compiled Lua scripts, allowed by the style guide
var (
	acquireScript = redis.NewScript(acquireLua)
	observeScript = redis.NewScript(observeLua)
)
