// Package ratelimit is the shared, header-synced token bucket that keeps the
// worker inside DocuSign's API limits while using nearly all of the budget it
// is entitled to, with no 429s.
//
// DocuSign allows by default 3,000 calls per hour per account, shared by
// every integration on the account and reset at the top of the hour, plus a
// burst limit (500 calls per 30 s in production, 200 in demo). Every reply
// carries X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (the
// window's end, Unix seconds), X-BurstLimit-Limit and X-BurstLimit-Remaining.
// The limiter keeps one budget per key (a DocuSign account) in Redis, shared by
// every worker process, and corrects it from those headers.
//
// The package is a leaf: it knows go-redis (through a small interface) and
// nothing of DocuSign's client, asynq or NATS. A client hook wires it in:
// before each request Wait takes a token at the priority the job put in the
// context (WithPriority, PriorityFrom); after each reply Observe reports the
// headers, or ObserveRateLimited a throttled reply (429, or 400 with
// HOURLY_APIINVOCATION_LIMIT_EXCEEDED / BURST_APIINVOCATION_LIMIT_EXCEEDED).
// Because the hook is the only place that takes tokens and reports headers,
// no call is counted twice. Organization-level Admin API calls spend the
// budget of a configured account (by default the organization's default
// account): an assumption, since DocuSign does not document it.
//
// # The budget model
//
// Per key and hourly window the limiter knows the limit L (from the headers,
// or Config.DefaultLimit until the first reply), the shared view R of what
// remains, and the window end T (X-RateLimit-Reset; until a reply confirms it,
// windows are assumed aligned: start = floor(now/Window)·Window). A reserve
// r = round(Config.Reserve · L), 10 % by default, is never spent: it is left
// to the other integrations on the account.
//
// Paced, not greedy: the limiter keeps back a floor that falls along a straight
// line from an anchor (t₀, R₀) to (T, r):
//
//	floor(t) = r + (R₀ − r) · (T − t) / (T − t₀)
//
// and grants n tokens at time t only if R − n ≥ floor(t). The anchor is the
// window start with R₀ = L, so by default the L − r spendable calls are
// released evenly over the hour, (L − r)/Window per second: 0.75 calls/s for
// 3,000/h. The account can never be emptied early: at any moment at least
// floor(t) calls are left for the rest of the hour.
//
// Synced from the headers: within one window the lower remaining wins
// (R = min(R, observed); the other integrations spent the difference, and a
// higher figure is stale or predates our own later grants), a reply from a
// newer window replaces the state, one from an older window is ignored. When
// a reply shows R below the line, the line is re-drawn through (now, R): what
// is still available above the reserve is spread over the time left, so the
// limiter neither stalls until the old line catches up nor overspends. When R
// is on or above the line (the worker was idle, or spent less than the line
// allowed) the line stays, and the unspent part is credit that may be spent at
// once, up to the burst limit.
//
// Why this uses the whole budget: with other integrations spending at a
// steady rate f and the limiter following the re-drawn line, u = R − r obeys
// du/dt = −u/(T − t) − f, whose solution u(t) = (T − t)·(u₀/T + f·ln((T − t)/T))
// stays positive until just before the window end (u₀ = 540, f = 2/s, T = 60 s:
// 0.7 s before it). Every call the others did not make is spent by the worker,
// and none of the reserve: the worker gets L − r − (what the others spent). Replaying the quota test (limit 600 per 60 s, burst 100
// per 5 s, 10 % reserve, 20 % foreign load at a steady rate, three processes)
// against the real scripts uses 99.8–100 % of the 420 calls per window with
// no 429, with the foreign load steady or in bursts (quota_sim_test.go).
//
// The burst limit: burst windows are Config.BurstWindow long (30 s by default;
// DocuSign sends no burst reset, so they are assumed fixed and aligned like the
// hourly ones). Each burst window starts with the burst limit B; the
// limiter subtracts its own grants and lowers the rest to
// X-BurstLimit-Remaining when a reply shows other integrations' calls. It
// never takes the last round(Config.BurstReserve · B) calls of a burst window
// (10 % by default). A reply to a request granted in
// an earlier burst window says nothing about the current one and is ignored
// for the burst (pass Grant.At as Observation.SentAt).
//
// A throttled reply empties the budget: Hourly until the reset it names (or
// the end of the current window), Burst until the end of the current burst
// window. The goal is that this never happens; Stats counts it.
//
// # Priorities
//
// Critical (leavers), Default (joiners, movers) and Low (backfill). A critical
// or default request that is refused leaves a claim in Redis (a sorted set per
// priority, scored by expiry): for an in-place waiter until its next attempt
// plus 1 s, for a request parked with a *RetryError until its RetryIn plus
// Config.ParkedHold (5 s). While a higher-priority claim is live, a lower
// priority is refused (ReasonPriority), however many tokens there are: low
// work can never take the token a critical waiter is waiting for, and tokens
// not taken stay as credit on the line, so holding them back costs nothing.
// A grant clears its own claim; a cancelled Wait withdraws it; a claim of a
// process that died lapses on its own. WithWaiterID (e.g. the asynq task ID)
// lets a parked job find its own claim again when it comes back. Requests of
// the same priority compete on equal terms.
//
// # Waiting
//
// Wait sleeps in place while the next token is near, for at most
// Config.MaxWait (2 s) in total and never past the context's deadline, each
// attempt being one Redis round trip. Otherwise it returns a *RetryError with
// RetryIn (time to the next token, the next burst window, or the next hourly
// window's first token) and a Reason; IsRetry and RetryIn find it in any error
// chain. Jobs turn it into a reschedule that spends no retry. Callers should
// add their own jitter when many jobs park at once. A cancelled context
// returns ctx.Err() wrapped.
//
// # Redis
//
// Each acquisition attempt is one round trip: one Lua script (EVALSHA) reads
// and writes the key's state and claims. A grant on the first attempt, and a
// *RetryError, cost one; a Wait that sleeps in place costs one more per
// wake-up (Grant.Attempts counts them), and a cancelled one that held a
// priority claim one more to withdraw it (ZREM). When Redis's script cache
// lacks the script (the first call after a restart or SCRIPT FLUSH), EVAL
// sends it once more, a second round trip. Merging an observation is one
// round trip too. Time comes from Redis TIME inside the
// scripts, so no process's clock skew matters (tests inject Config.Clock).
// All keys of one budget share the Redis Cluster hash tag {key}; see lua.go
// for the layout. Redis unavailable fails closed: the error wraps
// ErrUnavailable and DocuSign calls are held until Redis is back.
// Config.FailOpen grants unpaced instead, which can exhaust the account for
// every integration on it: leave it off unless calls matter more than the
// shared quota. Config.Timeout (1 s) bounds each round trip.
//
// # Metrics
//
// Stats and Snapshot return per-key counters of this process (grants, waits
// and their total and last length, parked requests, throttled replies, Redis
// failures) and the last shared view seen (limit, remaining, reserve, burst,
// window end), including the estimate of foreign consumption: since the
// previous lowest reply of the window, foreign += (previous remaining −
// observed remaining) − the limiter's grants in between, accumulated in Redis
// per window so all processes share it. State reads the full shared view,
// including the pacing line (Pace), from Redis.
package ratelimit
