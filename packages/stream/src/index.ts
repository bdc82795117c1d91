/**
 * @skein/stream: Skein's data path, from a call to the bytes on a connection and back.
 *
 * The design is razor-rpc's. One connection carries many calls at once, in both directions: each
 * request gets a `seq`, and replies come back in whatever order the server finishes them. A
 * client keeps at most `window` calls in flight per connection and queues the rest; the writes
 * of one event-loop turn leave as one batch, and timeouts are checked in batches once per tick,
 * never with a timer per call. A server reads each connection's frames in order, hands every
 * request to one `Dispatch`, and writes the answers as they come, again batched.
 *
 * The code lives in four rooms, and a fifth they share:
 * - `wire/`: the razor v1 frames (protocol.ts), the frame specs transports cut frames by, size
 *   limits, prebuilt error responses, razor's `rpc_*` error strings, string-action names.
 * - `client/`: `ClientStream` (one connection: its calls' path), a `Call` from send to settle,
 *   the window (`Throttler`), and the `Caller` contract every carrier implements; beside the
 *   ClientStream, what no call's path touches: its streams (`conn-streams.ts`), its pings and
 *   liveness (`keepalive.ts`), credentials (`client-auth.ts`) and the hello (`hello.ts`).
 * - `pool/`: `ConnPool` (connections to one server, reconnecting with backoff: its calls' path;
 *   beside it, what a call on an open connection never touches: calls waiting for one
 *   `waiting-calls.ts`, opening one `conn-opener.ts`, the outage and backoff `outage.ts`, idle
 *   and old connections `conn-upkeep.ts`, and its options `conn-pool-options.ts`),
 *   `FailoverPool` (many servers, a strategy to pick one, retries that never run a call twice,
 *   a circuit breaker per server and outlier ejection: its calls' path; beside it, its servers
 *   joining and leaving `membership.ts`, their breakers' and outlier scores' upkeep
 *   `server-health.ts`, the calls' time bound `call-deadlines.ts`, its options
 *   `failover-pool-options.ts`),
 *   and the discovery contract that keeps a FailoverPool's servers current (`followDiscovery`).
 * - `server/`: `RpcServer` (listeners, connections, graceful close), one `ServerConn` per
 *   connection (its requests' path; beside it, what no request's path touches: the hello
 *   `conn-hello.ts`, probation `conn-probation.ts`, `conn-info.ts`, `conn-reverse-host.ts`),
 *   the `ServerRequest` a dispatch answers, and `createRouter` for plain handlers;
 *   `dispatchByService` hands each service's requests to a dispatch of its own (some on the
 *   event loop, the rest on a worker pool: `dispatch-by-service.ts`);
 *   peers and clients on one listener (`conn-kind.ts`, `conn-census.ts`), and the server's calls
 *   to a connection that serves them (`reverse-caller.ts`; the serving side is `client/reverse-dispatch.ts`).
 * - `internals/`: what client, pool and server share and no user sees: the tick clock that checks
 *   timeouts in batches, seq tables, stream credit and send-buffer waits, a stream's inbox.
 *
 * A call's path: `ClientStream.send` (or a pool's, which picks a stream) → `Throttler` admits it
 * → the request header is written into the transport's `FrameConn` → the server's transport cuts
 * the frame (`requestFrameSpec`) → `ServerConn.frame` builds a `ServerRequest` → `Dispatch` →
 * `req.reply` writes the response → the client's `ClientStream.onFrame` matches its seq and
 * settles the `Call`.
 *
 * The transports live in their own packages (`@skein/transport-tcp`, `@skein/transport-ws`),
 * behind core's `Transport` contract: this package imports none of them.
 */

// ── Calling: what an application uses ──────────────────────────────────────────────────────
export { ClientStream } from './client/client-stream.js';
export type { ClientStreamOptions } from './client/options.js';
export type { StreamState } from './client/client-stream.js';
export type { PeerDialect } from './client/hello.js';
export type { CallOptions } from './client/call-options.js';
export type { Caller, StreamCaller } from './client/caller.js';
export type { Credentials, CredentialsValue } from './client/credentials.js';
export type { Reply, Notify } from './client/call.js';
// Streams a client opens (`ClientStream.openStream`), one refused before it opened (for carriers
// of your own), and the metadata a call carries.
export { StreamCall, refusedStream } from './client/stream-call.js';
export type { Metadata } from './wire/call-head.js';
export { metadataRecord } from './wire/call-head.js';

// ── Pools: one server with reconnects, or many with failover ──────────────────────────────
export { ConnPool } from './pool/conn-pool.js';
export type { ConnPoolOptions, ConnPoolStats, PoolState } from './pool/conn-pool-options.js';
export { FailoverPool } from './pool/failover-pool.js';
// A server's key as a FailoverPool keys its members (`ws://h:1`, `tcp://h:1` and `h:1` are one): for code that matches members to addresses.
export { serverKey } from './pool/server-specs.js';
export type { FailoverPoolOptions, MembershipEvent, ServerHealthEvent, ServerSpec, ServerStats } from './pool/failover-pool-options.js';
export type { CircuitBreakerOptions, CircuitState } from './pool/circuit-breaker.js';
export type { OutlierEjectionOptions } from './pool/outlier-ejection.js';
export type { FailoverDecision, FailedAttempt } from './pool/failover-rules.js';
export type { ServerView, ServerPicker, Strategy } from './pool/selection.js';
export { Backoff } from './pool/backoff.js';
export type { BackoffOptions } from './pool/backoff.js';
export type { RetryBudgetOptions } from './pool/retry-budget.js';
export type { RedirectTargetOptions } from './pool/redirect-targets.js';
// Discovery: the contract a backend implements, the state a backend's watch keeps, an in-memory
// backend, and the glue that feeds a FailoverPool from any backend.
export type { Discovery, DiscoveryEntry, DiscoveryEvent, DiscoveryStatus, EntrySpec, ReadyOptions, Registrar, Registration, Watch } from './pool/discovery.js';
export { discoveryEntry } from './pool/discovery-entry.js';
export { DiscoveryFeed } from './pool/discovery-feed.js';
export type { DiscoveryFeedOptions } from './pool/discovery-feed.js';
export { StaticDiscovery } from './pool/static-discovery.js';
export type { StaticDiscoveryOptions } from './pool/static-discovery.js';
export { followDiscovery } from './pool/follow-discovery.js';
export type { FollowDiscoveryOptions } from './pool/follow-discovery.js';
export { DEFAULT_LAST_LEAVE_GRACE_MS, LastLeaveHold, lastLeaveGraceMs } from './pool/last-leave-grace.js';
export type { HeldLiveness, LastLeaveHoldOptions } from './pool/last-leave-grace.js';

// ── Serving ─────────────────────────────────────────────────────────────────────────────────
export { RpcServer } from './server/rpc-server.js';
export type { RpcServerOptions, RpcServerStats, ServerState } from './server/rpc-server.js';
export type { BoundAddress, HostAddress, PathAddress } from './server/bound-address.js';
export type { Authenticate, AuthRequest, AuthGrant } from './server/authenticate.js';
// Peers and clients on one listener, each kind under its own limits (`peers`, `clients`).
export type { ConnKind, KindOptions, PeerOptions, PeerCandidate } from './server/conn-kind.js';
export { createRouter } from './server/router.js';
export type { ActionHandler, ActionResult, RouterOptions } from './server/router.js';
// Some services on one dispatch, the rest on another (health on the loop, the rest on a worker pool).
export { dispatchByService } from './server/dispatch-by-service.js';
export type { DispatchByServiceOptions } from './server/dispatch-by-service.js';
export { DEFAULT_LIMITS } from './wire/limits.js';
export type { Limits } from './wire/limits.js';
export type { ClientLimits } from './client/client-limits.js';

// ── For layers above (a typed API, a custom dispatch) ───────────────────────────────────────
export type { Dispatch } from './server/dispatch.js';
export { handlerEndToldBy, itemsReadBy } from './server/dispatch.js';
export { ServerRequest } from './server/request.js';
export { RequestStream } from './server/request-stream.js';
// What a StreamCall's or a RequestStream's `observe()` tells of each item (tracing, metrics).
export type { ItemObserver } from './client/item-observer.js';
export type { ConnInfo, Responder } from './server/request.js';
export type { ReplyLimits } from './wire/limits.js';
export { errorDetail, handlerErrorDetail, refusalDetail, crashDetail, actionName, speaksToCaller } from './wire/error-detail.js';
export { WithheldLog } from './server/withheld-log.js';
export type { WithheldLogOptions } from './server/withheld-log.js';
// Moved to @skein/core (transports use it too); re-exported here for code that imported it from this package.
export { RepeatedLine } from '@skein/core';
// What cancels a call with no AbortSignal made for it (`CallOptions.abortSource`; a ServerRequest is one), the listeners one keeps, and an abort that fires once, its signal made only if read.
export type { AbortSource } from './client/call-options.js';
export { AbortListeners } from './internals/abort-listeners.js';
export { LazyAbort } from './internals/lazy-abort.js';
// For a carrier of your own (a Caller): what cancels a call, its signal and its abort source, checked and hooked as the built-in ones do.
export { abortedAlready, cancellable, hookAbort } from './client/call-abort.js';
// For what wraps or hands on a Caller: its default timeout as a number, or none (a getter that throws counts as none).
export { callerTimeoutMs } from './client/caller.js';
// For a carrier of your own: metadata that is no record (null, a string, an array) refused with the built-in carriers' InvalidArgument.
export { metadataRefusal } from './internals/checks.js';
// For a carrier of your own: its calls by a number it hands out in order, without a Map's set and delete per call (see seq-table.ts).
export { SeqTable } from './internals/seq-table.js';

// ── For transport authors and raw peers: the razor v1 wire itself ─────────────────────────────
export * as protocol from './wire/protocol.js';
// How a transport cuts a server's (requests) and a client's (responses) frames: a raw peer dials with these.
export { requestFrameSpec, responseFrameSpec } from './wire/frame-specs.js';
