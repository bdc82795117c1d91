import type { Etcd3 } from 'etcd3';
import { endpointsOf } from './etcd-endpoints.js';

/** gRPC call options as etcd3 takes them (grpc-js's CallOptions, named through etcd3's own types). */
export type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;
type Interceptor = NonNullable<CallOptions['interceptors']>[number];

/** Attempts one call's bound is cut into: etcd3 tries a call up to three times; a quarter leaves room for them. */
const ATTEMPTS_PER_BOUND = 4;

/**
 * Call options for one etcd call of `client` that must settle by `deadline` (ms since the epoch),
 * each attempt etcd3 makes of it waiting at most a quarter of `boundMs` when `client` has several
 * members to send it to.
 *
 * etcd3 sends each attempt to a member picked at random and, when one fails as the network does
 * (DEADLINE_EXCEEDED included), tries another, up to three in all; but a call's `deadline` is one
 * instant for every attempt. So one stalled member (SIGSTOP, a frozen host: its kernel still
 * accepts, nothing answers) held each call sent to it for the whole bound, with a quorum answering
 * beside it; and the attempts after it, sent past that instant, failed at once on healthy members,
 * each counted by etcd3 as a failure of that member, so that their circuit breakers opened and
 * every call of the client failed for 5 s. An interceptor runs for each attempt, as grpc-js
 * creates it, and gives that attempt its own deadline, never past the call's.
 *
 * Given these options a call uses their interceptor in place of the client's
 * `defaultCallOptions.interceptors` (etcd3 merges call options over the defaults key by key).
 */
export function withinAttempts(client: Etcd3, deadline: number, boundMs: number): CallOptions & { deadline: number } {
  const attemptMs = attemptBoundMs(client, boundMs);
  if (attemptMs === boundMs) return { deadline };
  const perAttempt = (options: { deadline?: Date | number }, nextCall: (options: object) => object): object =>
    nextCall({ ...options, deadline: Math.min(epochMs(options.deadline), Date.now() + attemptMs) });
  return { deadline, interceptors: [perAttempt as unknown as Interceptor] };
}

/**
 * The most one attempt of a call bounded by `boundMs` waits on one member of `client`: all of it
 * with one member, which has no other to go on to (etcd3 sends each attempt to it again, so a cut
 * attempt only cut an answer still arriving on a slow link, reset the client's connections,
 * breaking its watches and lease keepalives, and no view of large values was ever read); else a
 * quarter (and where the members cannot be told).
 */
export function attemptBoundMs(client: Etcd3, boundMs: number): number {
  return endpointsOf(client)?.length === 1 ? boundMs : boundMs / ATTEMPTS_PER_BOUND;
}

/** grpc-js's Deadline (a Date, or ms since the epoch; none is Infinity) as ms since the epoch. */
function epochMs(deadline: Date | number | undefined): number {
  if (deadline === undefined) return Infinity;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
