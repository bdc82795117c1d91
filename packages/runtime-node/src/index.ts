/**
 * @skein/runtime-node: core's `Runtime` contract on Node (node:net sockets, timers). A runtime
 * is what a transport needs from the platform: connect, listen, a clock. Files by role, the same
 * names in every runtime package: runtime.ts (the Runtime), connect.ts, listener.ts,
 * byte-conn.ts (one socket as a `ByteConn`), socket-address.ts, socket-file.ts (Unix sockets), tls.ts (TLS);
 * Node alone adds handover.ts (graceful restart: listening sockets handed to the next process).
 * What the runtimes share (the connection lifecycle, write batching, stale socket files) is
 * written once in @skein/core.
 */

// ── What an application passes to a transport ────────────────────────────────────────────
export { nodeRuntime } from './runtime.js';
export { handoverRuntime } from './handover.js';
export type { HandoverRuntime, HandOverOptions } from './handover.js';
