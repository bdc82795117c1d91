/**
 * @skein/core: the contracts every Skein package meets, and nothing that moves bytes itself.
 *
 * Skein is composed at start-up from small packages that know each other only through this
 * one: a `Codec` turns values into bytes; a `Runtime` gives a platform's sockets (`ByteConn`)
 * and timers (`Clock`); a `Transport` turns a runtime's connections into frames (`FrameConn`),
 * cut by a `FrameSpec` that the protocol (in @skein/stream) supplies; the stream layer moves
 * calls over frames. An error is an `RpcError` with a built-in `ErrorCode` (whose retry class
 * says whether a call may be repeated), or a `RemoteError` carrying a method's own typed error.
 *
 * Applications use the first groups below; runtime and transport authors the last ones, where
 * what every adapter shares (the connection lifecycle, write batching, chunk queues) is written
 * once so that an adapter holds only what its platform differs in.
 */

// ── Errors: what a call can fail with, and the errors of your own methods
export { ErrorCode, CODE_INFO, codeFromWire, isErrorCode } from './error-code.js';
export type { ErrorName, RetryPolicy } from './error-code.js';
export { RpcError, rpcError, invalidArgument, connectFailed, whenAborted, listenFailed, fromDownstream } from './rpc-error.js';
// What an abort of a call's or a connect's signal fails it with: Cancelled, or Timeout when its reason is a timeout (AbortSignal.timeout)
export { connectAborted, isTimeoutReason, signalTimedOut } from './abort-reason.js';
export type { RpcErrorOptions } from './rpc-error.js';
export { withoutStack } from './without-stack.js';
export { RemoteError, codeErrors } from './custom-error.js';
export type { ErrCodec, ErrorPayload } from './custom-error.js';

// ── Codecs, logging, addresses: what an application passes in
export { encodeError, decodeError } from './codec.js';
export type { Codec } from './codec.js';
export { silentLogger, consoleLogger } from './logger.js';
export { guardedLogger } from './guarded-logger.js';
export type { Logger, LogLevel } from './logger.js';
// For a line that may recur with every event (a cap refusing each connection): one line a window, with a count
export { RepeatedLine } from './repeated-line.js';
export { parseAddress, formatAddress } from './address.js';
// One text per IPv6 address (RFC 5952), runtime-neutral: what a pool's key names a literal by
export { canonicalIpv6 } from './ipv6-text.js';
// An address or URL as log lines and errors name it: a URL's query (a page's token) left out
export { shownAddress } from './shown-address.js';
export { shownUrl } from './shown-url.js';
// A user and password in an address: refused by parseAddress, and left out of messages (the CLI's too)
export { hasUserInfo, withoutUserInfo } from './user-info.js';
export type { Address, AddressScheme } from './address.js';
// TLS: one options shape for every runtime and transport, and the verified identity of a peer (docs/tls.md)
export { resolveTls, sniName, reloadedTls, reloadedTlsOptions, reloadedTransportTls, connectTlsOptions, identityOf, tlsFailure, unusableTls, refuseDamagedCa, tlsCloseError, looksLikeTls, SKEIN_ALPN, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS } from './tls.js';
export type { TlsOptions, ResolvedTls, PeerIdentity, Pem, DetailedPeerCertificate, TlsHandshakeSeen } from './tls.js';
export { isHandshakeRefusal } from './handshake-refusal.js';
export { parsedBy } from './pem-certificates.js';
// For transports: the warning a listener's certificate calls for as it nears its notAfter
export { CertificateExpiryWatch, expiryWarning, DEFAULT_TLS_EXPIRY_WARNING_MS } from './certificate-expiry.js';
// ...and the one a client presents (mTLS), warned of as it connects
export { warnOfClientCertificate } from './client-certificate-expiry.js';
export { leafValidity } from './certificate-validity.js';
export type { CertificateValidity } from './certificate-validity.js';
export type { CertificateParser } from './pem-certificates.js';
export { wrongPemKind, pemLabels } from './pem-kind.js';
export type { PemWanted } from './pem-kind.js';
export { systemClock } from './clock.js';

// ── Contracts for runtime authors (a platform's sockets and timers) and transport authors (frames over a connection)
export type { Runtime, ConnectOptions, ListenOptions, ByteConn, ByteHandlers, ByteListener, Clock, Ticker } from './runtime.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, isRuntime } from './runtime.js';
export { MAX_TIMER_MS, timerPeriod, connectTimerMs, handshakeTimer } from './timer-limit.js';
export { FrameError, SMALL_PART, checkFrameSpec, checkFrameSpecSwap, frameBodyLength } from './transport.js';
export type { Transport, ReloadableTransport, TransportConnectOptions, TransportListenOptions, FrameSpec, FrameHandlers, FrameConn, FrameListener, FrameSink } from './transport.js';
// A transport's connect and listen: an address written for another transport (ws:// to TCP, tcp:// to WebSocket) refused, not dialled
export { addressFor } from './address-for.js';
// A TLS listener's accepted connection closing: a plaintext client's reason says so, the TLS library's words after it
export { tlsAcceptError } from './tls-accept-error.js';

// ── For runtime and transport authors: what every connection adapter shares, written once
// (bytes.ts: EMPTY_BYTES and the byte helpers are also what codec authors reach for)
export { EMPTY_BYTES, plainBytes, takeBytes, putBytes, builtinByteOps, scriptedByteOps, SHORT_BYTES } from './bytes.js';
export type { ByteOps } from './bytes.js';
// For memory every byte of which is written before it is read: a long frame assembled, a long read copied out
export { uninitializedBytes, LONG_BYTES } from './uninitialized-bytes.js';
// For codec authors: the chunks a fast encoder hands its messages out of, as views never written over
export { ChunkWriter, MAX_CHUNK_MESSAGE_BYTES } from './chunk-writer.js';
export { ConnLifecycle } from './conn-lifecycle.js';
export type { LifecycleHandlers } from './conn-lifecycle.js';
export { ByteConnLifecycle } from './byte-conn-lifecycle.js';
export { clearStaleSocket } from './socket-file.js';
// For transport authors: a transport's TLS options, its listeners and reloadTls (in call order, a listener still opening caught up)
export { TransportTls } from './transport-tls.js';
export type { TlsListener, TransportTlsAdapter } from './transport-tls.js';
// For runtime authors whose TLS loads a pair only as a listener does (Bun, Deno): Runtime.loadConnectTls on a trial listener
export { loadPairOnTrialListener } from './trial-listener-pair.js';
// For every package that renames an option: the old name fails loudly instead of being ignored
export { refuseRenamed } from './renamed-option.js';
// For every factory that takes options: a plain-JS caller's unknown knob (or wrong argument) fails loudly instead of being ignored
export { refuseUnknownOptions } from './unknown-option.js';
// For adapters over Node's sockets (runtime-node, transport-ws): what their kernel has taken (FrameConn.sentBytes)
export { nodeSocketSentBytes } from './node-socket-sent.js';
export type { SocketFileAccess } from './socket-file.js';
export { RunBatch, type BatchOwner } from './run-batch.js';
// Once the current macrotask is over (setImmediate, else a 0 ms timer): what a batch or a turn of calls waits for
export { afterMacrotask } from './after-macrotask.js';
// For library authors: a copy of an object with fields changed, at a spread's meaning without its cost on Node 20
export { extended } from './extended.js';
// Options objects whose fields may be left out or undefined (exactOptionalPropertyTypes), and their defaults filled in alike
export type { OptionalFields } from './optional-fields.js';
export { withDefaults } from './with-defaults.js';
// For codec and protocol authors: a string's UTF-8 length, counted without encoding it
export { utf8Length } from './utf8-length.js';
export { ChunkQueue, appendChunk } from './chunk-queue.js';
export { Slab } from './slab.js';
export { SlabRun } from './slab-run.js';
