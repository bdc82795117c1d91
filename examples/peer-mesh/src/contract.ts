// The services of the peer mesh. The hub serves Mesh (on its event loop) and Heavy (on a
// WorkerPool); a peer service serves PeerCtl and a client serves Inbox over the connection each
// opened, so that the hub can call them back (a client behind NAT included).
import { method, service } from '@skein/api';

export const Mesh = service('Mesh', {
  echo: method<string, string>(),
  /** Holds its slot for `ms`; answers how many holds of its connection ran at once as it started. */
  hold: method<{ ms: number }, number>(),
  /** Calls the caller back (PeerCtl.square, taking `ms`) over its own connection, then answers n² + 1. */
  squarePlusOne: method<{ n: number; ms?: number }, number>(),
  /** Who the hub thinks is calling: the connection's kind and principal. */
  whoami: method<void, { kind: string; principal: unknown }>(),
});

/** CPU-heavy, served by the WorkerPool's threads. */
export const Heavy = service('Heavy', {
  hash: method<{ text: string; rounds: number }, string>().idempotent(),
  /** Not idempotent: appends `id` to `ledger` once per run; `crash` ends the worker after that. */
  charge: method<{ id: string; ledger: string; crash?: boolean }, string>(),
  /** In a worker thread: calls the caller back (PeerCtl.square) through the pool, answers n² + 1. */
  squareViaWorker: method<number, number>(),
  /** Busy for `ms` of CPU (fills the pool's queue in the tests). */
  spin: method<{ ms: number }, number>(),
});

/** Served by a peer service over the connection it opened. */
export const PeerCtl = service('PeerCtl', {
  square: method<{ n: number; ms?: number }, number>(),
  name: method<void, string>(),
});

/** Served by a client (behind NAT: it only dials out): the hub pushes to it. */
export const Inbox = service('Inbox', {
  push: method<string, boolean>(),
});

export const PEER_TOKEN_PREFIX = 'peer:';
