/**
 * @skein/transport-tcp: core's `Transport` contract over TCP and Unix sockets, on any runtime
 * (the `Runtime` is a parameter, so one transport serves Node, Bun and Deno). A connection is a
 * `TcpFrameConn` (frame-conn.ts) over the runtime's `ByteConn`: the `FrameReader` cuts frames by
 * the stream layer's `FrameSpec`, assembling a frame cut across reads in memory that grows with
 * the bytes received, never with the length a header claims (frame-assembly.ts), within one
 * budget per listener (pending-frame-budget.ts); the `FrameWriter` batches a turn's writes into
 * few socket writes. TLS is the runtime's: tls-settings.ts says when a connection asks for it;
 * reloads of the transport's listeners are core's TransportTls. The same framing serves any
 * byte stream: a transport author's ByteConn over theirs (byte-stream-framing.ts).
 */

// ── What an application uses ─────────────────────────────────────────────────────────────
export { tcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-options.js';

// ── What a transport author uses ─────────────────────────────────────────────────────────
// This framing over a byte stream of their own: core's ByteConn, which they write over it.
export { byteStreamFraming } from './byte-stream-framing.js';
export type { ByteStreamFraming, ByteStreamFramingOptions, ByteStreamConnOptions } from './byte-stream-framing.js';
export type { Dialled } from './frame-conn.js';
export type { PendingFrameBudget } from './pending-frame-budget.js';
