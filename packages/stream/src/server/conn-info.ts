import type { FrameConn } from '@skein/core';
import type { LazyAbort } from '../internals/lazy-abort.js';
import type { Caller } from '../client/caller.js';
import type { ConnRole } from './conn-census.js';
import type { ConnInfo } from './request.js';

/** What a connection's ConnInfo reads of its ServerConn, each when asked. */
export interface InfoLink {
  readonly conn: FrameConn;
  readonly principal: unknown;
  readonly role: ConnRole | undefined;
  /** Its reverse calls, once the hello agreed them, while its calls are admitted (auth). */
  readonly admittedCaller: Caller | undefined;
  /** What aborts its plain calls, made when first listened to. */
  readonly callAbort: LazyAbort;
}

/**
 * The ConnInfo handlers see (`req.conn`), made once per connection at its first read: most
 * handlers never look, and an AbortController is only worth making when someone listens. Its
 * fields are getters, as what they say changes over the connection's life (its kind, its
 * principal, its caller). Apart from ServerConn because no request's path builds it.
 */
export function connInfo(link: InfoLink, id: number, transport: string, draining: LazyAbort): ConnInfo {
  return {
    id,
    remote: link.conn.remote,
    transport,
    get identity() {
      return link.conn.identity;
    },
    get principal() {
      return link.principal;
    },
    get kind() {
      return link.role?.limits.kind ?? 'client';
    },
    get caller() {
      return link.admittedCaller;
    },
    get draining() {
      return draining.signal;
    },
    get signal() {
      return link.callAbort.signal;
    },
  };
}
