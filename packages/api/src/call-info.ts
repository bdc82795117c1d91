import type { PeerIdentity } from '@skein/core';
import type { Metadata } from '@skein/stream';

/**
 * Before/after hooks around every call, on the client (around the Caller) and on the server
 * (around the handler), as pomelo's filters and grpc-js's interceptors. Each call gets its own
 * CallInfo — pomelo shared one object across concurrent calls.
 *
 * `before` runs in the order given and may reject the call by throwing (an RpcError keeps its
 * code; anything else becomes the error of the call) or annotate `info.meta`, and on the client
 * set the metadata the call sends (`info.setMetadata`); `after` runs in
 * reverse order, like layers of an onion, and sees the outcome. A filter's `after` runs only if
 * its `before` did.
 */
export interface CallInfo {
  readonly service: string;
  readonly method: string;
  /** `"Service.method"`, the wire action. */
  readonly action: string;
  readonly side: 'client' | 'server';
  /** The argument (decoded, on the server). */
  readonly arg: unknown;
  /** Server: the peer's address. Client: the route key, if any. */
  readonly peer?: string;
  readonly route?: string;
  /** Server: who the client is (`ctx.principal`: its connection's accepted credentials), if it authenticated. */
  readonly principal?: unknown;
  /** Server: the peer's verified TLS identity (subject, SANs, fingerprint) on an mTLS connection. */
  readonly identity?: PeerIdentity;
  /**
   * The call's metadata (`authorization`, a trace context...). Server: as the client sent it
   * (behind @skein/otel's `tracedDispatch`, with the server span's trace context in place of the
   * client's). Client: what the call sends: its `metadata` option, with the entries filters set
   * through `setMetadata` (until one does, the caller's own object: read it, never write it).
   */
  readonly metadata?: Metadata;
  /**
   * Client: sets the entry `key` of the metadata this call sends (a session token, a tenant id, a
   * request id), in `info.metadata`, over the call's `metadata` option, whose object stays as
   * the caller made it (a caller may pass one to many calls; another call's `info.metadata`
   * too): the first write makes the call's own copy. Only a `before`'s write (before the call is
   * sent) reaches the server: what is sent is fixed then, so every attempt sends the same, and a
   * later write makes a copy nothing sends. Later writes write the call's copy in place: an
   * object read off `info.metadata` and handed to a call the filter makes (its `metadata`
   * option) is copied by that call, which sends what it was handed. Checked as the `metadata` option is when the call is sent: a value that is no
   * string fails the call with InvalidArgument, unsent. A key that is no string (a symbol, which
   * the wire drops) or a reserved one (`skein-stream`) throws InvalidArgument here, and fails the
   * call so, unsent, in an object a filter assigns to `info.metadata`. Called other than
   * as `info.setMetadata(...)` (taken off `info`, or on a copy such as `{ ...info }`), it throws
   * a TypeError that says so. Server: throws, as the call came with the client's metadata.
   */
  setMetadata(key: string, value: string): void;
  /** `performance.now()` when the call entered the filters. */
  readonly startedAt: number;
  /** Free space for filters to annotate the call (per call, never shared). */
  readonly meta: Record<string, unknown>;
}
