// Package jobs is the asynq contract of the worker and its handlers: task
// types, payloads and constructors, the convergence of an employee's
// DocuSign user through either DocuSign surface, per-employee ordering,
// error classification and retry policy, the limiter hook, audit events and
// the logging middleware. It is the only package that knows both docusign
// and ratelimit.
//
// # Task identity
//
// Every task is derived from one HR event. Its TaskID is the hex SHA-256 of
// the event's source, id and the task type (see [TaskID]), and completed
// tasks are retained ([DefaultRetention], 7 days), so a redelivered or
// re-published event yields asynq.ErrTaskIDConflict, which the intake treats
// as "already enqueued".
//
// # Queues
//
// Leavers ([TypeUserClose]) run on [QueueCritical]; joiners and movers on
// [QueueDefault]; backfills on [QueueLow]. The queue sets the limiter
// priority of the task's DocuSign calls (critical, default, low).
//
// # Convergence
//
// [TypeUserCreate] and [TypeMembershipSet] do the same thing, since joined and
// updated events both carry the employee's full record: find the user (by
// the identity map's DocuSign user id, else by email, case-insensitively),
// resolve profile and group names per account through the client's cached
// look-ups (an unknown name is permanent), diff the desired state (profile,
// groups, first and last name, job title, company, email) against the live
// state and send only what differs. Absent user: create it with every
// membership. Closed membership: reactivate it (a rehire never makes a second
// user). No membership in a target account: add one. Nothing differs: no
// write call. If DocuSign says the user or membership already exists (a race,
// or a lost reply), the handler looks up again and re-plans once. The listed
// groups are the complete set (Everyone, which every member is in, aside);
// empty optional fields (job title, company) never clear a value. Accounts
// the event does not name are left alone; an account outside Config.Accounts
// is a permanent error.
//
// [TypeUserClose] closes the memberships in the named accounts, or in every
// managed account. An unknown user, no membership or an already closed one is
// success (outcome "unchanged").
//
// The surface is configuration ([Directory]; [NewAdminDirectory],
// [NewESignatureDirectory], [NewDirectory]). Admin API: one call creates the
// user with every membership (auto_activate_memberships); GET users/profile
// finds it; one POST users/profiles converges names, profiles, groups and
// job titles of all accounts; POST users/email_addresses changes the email;
// DELETE users/{id}/accounts closes; POST users/{id}/memberships/{id}
// reactivates. eSignature API, per account at its own environment:
// Users:list by email with additional_info (or Users:get by user id) finds,
// Users:create adds, Users:update changes names, title, company, profile and
// email and, with userStatus "Active", reopens a closed user (the
// simulator's "assumed" behaviour), PUT/DELETE groups/{id}/users changes
// groups, Users:delete closes. With warm caches a joiner costs 2 calls on the
// Admin API (look-up, create) and 2 per account on the eSignature API
// (list, create); an unchanged mover makes no write call.
//
// # Identity map
//
// Redis keeps, per employee, the DocuSign user id, site id, email, the
// managed accounts with a membership and the job title and company last
// applied per account ([Identity]). Movers and leavers find the user by id;
// an identity-map email different from the event's is an email change,
// applied through the email-change endpoint (Admin) or Users:update
// (eSignature). The Admin API does not return job titles: the values last
// applied stand in for them, so a title changed by hand in DocuSign is not
// noticed until HR changes it.
//
// # Ordering
//
// Events of one employee are applied in order of effective time
// (effective_at, else time). A watermark in Redis holds the last event
// applied successfully ([Watermark]); an older event is skipped as stale
// (logged, counted, audited, success). Equal effective times are ordered by
// the event's time, then by source and id in byte order; an event equal to
// the watermark (the same event again) is not stale. Two jobs of one
// employee never run at once: an employee lease (SET NX PX with a random
// token, renewed every third of its TTL while the job runs, released with a
// compare-and-delete script) is held from before the watermark check until
// the watermark is written; a job finding it taken returns
// [*LeaseTakenError] and comes back after about a second without spending a
// retry. Employees do not block each other. All keys of an employee share
// the hash tag {emp:<id>} (Redis Cluster).
//
// A cancelled event (a tombstone in [Tombstones]) is skipped with outcome
// "cancelled".
//
// # Errors and retries
//
// Errors are classified once, at the job boundary:
//   - rate limited — the limiter's *ratelimit.RetryError (returned through
//     the client hook), DocuSign's 429 or 400 with a limit code —
//     [*RateLimitedError] with RetryIn (the limiter's, or until
//     X-RateLimit-Reset, or the end of the burst window);
//   - another job of the employee running — [*LeaseTakenError];
//   - the whole integration unusable (consent_required, invalid_grant and
//     other token-endpoint 4xx, PARTNER_AUTHENTICATION_FAILED) — the task's
//     queue is paused through Config.Queues, the condition is alerted (error
//     log with alert=true, Metrics.IntegrationPaused) and
//     [*IntegrationPausedError] makes the task come back later instead of
//     being archived; an operator fixes the integration and resumes the queue;
//   - permanent for the task (invalid payload, unknown profile or group,
//     USER_LACKS_PERMISSIONS, another 4xx, a rejected item) —
//     [*PermanentError], which wraps asynq.SkipRetry, with a reason code
//     ([ReasonOf]);
//   - everything else (5xx, timeouts, connection resets, a 401 after the
//     client's one token refresh, Redis or NATS failures) is transient: a
//     plain error, retried with exponential backoff and full jitter.
//
// [IsFailure] is false for the first three and for asynq.ErrLeaseExpired (a
// crashed worker), so none of them spends a retry; [RetryPolicy.RetryDelay]
// returns their RetryIn. Because asynq v0.26 archives a task once
// Retried >= MaxRetry before it consults IsFailure, tasks carry
// MaxRetry = [MaxRetryFor](limit) (one above the limit, [NewTask]'s default)
// and [RetryLimitMiddleware] enforces the limit by counting real failures
// (asynq.GetRetryCount), returning a [*PermanentError] with
// [ReasonRetryLimit] when they are used up.
//
// # Audit
//
// Every outcome (created, reactivated, updated, closed, unchanged, stale,
// cancelled, and failed when the task is archived) is published as a
// provisioning.<outcome> CloudEvent ([AuditEvent]) on the AUDIT stream
// ([EnsureAuditStream]) with Nats-Msg-Id = TaskID + "." + outcome
// ([AuditMsgID]), so a retried task does not duplicate it. The record holds
// the causing event, the task, a before/after summary (which may include the
// email: the audit stream is access-controlled like HR data; logs show
// emails only at debug), the DocuSign calls made and their trace tokens.
// After its DocuSign writes a task records the outcome (with the identity
// map entry and watermark to write) in Redis before publishing; a failed
// publish fails the task, and the retry publishes the recorded outcome
// instead of converging again to "unchanged". A failed publication of the
// "failed" event is logged; the task is archived anyway.
//
// # Mapping rules
//
// With [Config.Rules] (a *rules.Store) the handlers apply the rules in force
// when the task runs: an employee out of scope is skipped
// ([OutcomeOutOfScope]), or closed in every managed account when the scope's
// on_exit is close and the worker provisioned them (an identity map entry);
// otherwise the desired memberships are the event's and the rules' accounts
// per the file's precedence. User settings from the rules cost one
// eSignature Users:update per account, sent only when they differ from the
// last ones sent (kept in the identity map). Without rules, a create or
// membership task without accounts fails permanently ([ReasonNoAccounts]).
//
// # Plans and shadow mode
//
// [NewDryRunDirectory] reads DocuSign and records writes instead of sending
// them ([PlannedCall]): the surfaces' own code decides what to send, so a
// plan lists exactly the calls a live run sends. [Handlers.Plan] works out one
// task that way without recording anything; with [Config.Shadow] the handlers
// run fully over a dry-run directory and their audit events list the planned
// writes under ids of their own.
//
// # Dead letters and the close guard
//
// [DeadLetters] writes a durable record of every archived task to the
// dead-letter stream, from asynq's ErrorHandler and from a sweep of the
// archive; [ReplayDeadLetter] enqueues one again with a fresh retry count.
// [Guard] holds closes beyond the mass-deprovisioning threshold
// ([CloseHeldError], which spends no retry) until an operator approves or
// rejects them ([GuardControl]).
//
// # Wiring (cmd/worker)
//
//	hook := jobs.NewLimiterHook(limiter, metrics)      // docusign.Config.Hook
//	dir, _ := jobs.NewDirectory(surface, client, jobs.AdminOptions{})
//	h, _ := jobs.NewHandlers(jobs.Config{Directory: dir, Accounts: accounts, Redis: rdb,
//	    Audit: js, Queues: inspector, Retry: policy, Metrics: metrics, Logger: logger})
//	mux := asynq.NewServeMux()
//	h.Register(mux)
//	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
//	    Queues: map[string]int{jobs.QueueCritical: 6, jobs.QueueDefault: 3, jobs.QueueLow: 1},
//	    IsFailure: jobs.IsFailure, RetryDelayFunc: h.RetryDelayFunc, ...})
//	// intake: jobs.TaskOptions{MaxRetry: jobs.MaxRetryFor(h.RetryLimit())}
package jobs
