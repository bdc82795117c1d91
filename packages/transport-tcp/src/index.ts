/**
 * @skein/transport-tcp: core's `Transport` contract over TCP and Unix sockets, on any runtime
 * (the `Runtime` is a parameter, so one transport serves Node, Bun and Deno). A connection is a
 * `TcpFrameConn` (frame-conn.ts) over the runtime's `ByteConn`: the `FrameReader` cuts frames by
 * the stream layer's `FrameSpec`, assembling a frame cut across reads in memory that grows with
 * the bytes received, never with the length a header claims (frame-assembly.ts), within one
 * budget per listener (pending-frame-budget.ts); the `FrameWriter` batches a turn's writes into
 * few socket writes. TLS is the runtime's: tls-settings.ts says when a connection asks for it;
 * reloads of the transport's listeners are core's TransportTls.
 */

// ── What an application uses ─────────────────────────────────────────────────────────────
export { tcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
