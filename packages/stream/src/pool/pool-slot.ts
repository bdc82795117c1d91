import type { ClientStream } from '../client/client-stream.js';

/** One connection of a pool and what the pool knows about it, from its connect to its close. */
export interface Slot {
  /** Set once the connection is up and answered its first ping. */
  stream: ClientStream | undefined;
  openedAt: number;
  lastUsed: number;
  /** Sent on since the last tick. */
  used: boolean;
  /** This connection's age limit (jittered), or Infinity. */
  maxAge: number;
  /** Over its age, kept only until a replacement is up. */
  expired: boolean;
  /** Closed before `connect` resolved. */
  dead: boolean;
  /** The pool's credentials epoch when its connect began: an older one is renewed once up. */
  epoch: number;
  /** The transport's TLS generation when its connect began (`Transport.tlsGeneration`): a refusal under an older one is outdated. */
  tlsGeneration: number;
  /** How many times the pool's address to dial changed before its connect began (ConnPool.redial): a refusal of an older one is outdated. */
  targets: number;
}

/** What a connect was made with: a refusal of it may be outdated by a change since (ConnOpener.outdated). */
export type MadeWith = Pick<Slot, 'epoch' | 'tlsGeneration' | 'targets'>;

/** A slot for a connect about to begin, under the credentials of `epoch`, the TLS options of generation `tlsGeneration`, to the address dialled after `targets` changes. */
export function connectingSlot(epoch: number, tlsGeneration: number, targets: number): Slot {
  return { stream: undefined, openedAt: 0, lastUsed: 0, used: false, maxAge: Infinity, expired: false, dead: false, epoch, tlsGeneration, targets };
}

/** What a connection carries: calls on the wire and open streams (a connection with a stream is not idle). */
export function carried(s: ClientStream): number {
  return s.inFlight + s.openStreams;
}
