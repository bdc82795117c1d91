/**
 * @skein/runtime-bun: core's `Runtime` contract on Bun (`Bun.connect` / `Bun.listen`). A runtime
 * is what a transport needs from the platform: connect, listen, a clock. Files by role, the same
 * names in every runtime package: runtime.ts (the Runtime), connect.ts, listener.ts,
 * byte-conn.ts (one socket as a `ByteConn`), socket-address.ts, socket-file.ts, tls.ts (TLS), native-api.ts
 * (the slice of Bun's API used, typed here so that the package builds under Node). What the
 * runtimes share is written once in @skein/core.
 */

// ── What an application passes to a transport ────────────────────────────────────────────
export { bunRuntime } from './runtime.js';
