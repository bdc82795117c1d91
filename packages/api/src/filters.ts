import type { PeerIdentity } from '@skein/core';
import type { Metadata } from '@skein/stream';
import type { CallInfo } from './call-info.js';
import { ClientCallInfo } from './client-call-info.js';
import type { ServerCallInfo } from './server-call-info.js';
import { isThenable } from './thenable.js';

// What a filter is told of a call: its own file, so that ClientCallInfo implements it without a circle.
export type { CallInfo } from './call-info.js';
export type { ServerCallInfo } from './server-call-info.js';

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Hooks around a call. `Filter` (info: CallInfo) fits both sides; `Info` narrows what its hooks
 * are told where the side is known: a `ServerFilter`'s info always has `metadata`.
 */
export interface Filter<Info extends CallInfo = CallInfo> {
  readonly name?: string | undefined;
  // Properties, not methods: a method's parameter is checked both ways, so a ServerFilter (its
  // info's metadata always set) compiled on a client, where a call's may be undefined.
  before?: ((info: Info) => void | PromiseLike<void>) | undefined;
  /** Not waited for; what it throws (or, an `async after`, rejects with) is logged and changes no outcome. */
  after?: ((info: Info, outcome: Outcome) => void) | undefined;
}

/**
 * A filter of `createServiceDispatch`: its info's `metadata` is always set. Any `Filter` is one
 * too (its hooks take any CallInfo).
 */
export type ServerFilter = Filter<ServerCallInfo>;

/**
 * Stops the filters of a call nobody waits for any more. Asked only when a `before` awaits, so a
 * call whose filters are synchronous pays nothing for it.
 */
export interface FilterWatch {
  /** Calls `stop` with why once the call is cancelled (or past its deadline); returns what unhooks it. */
  watchFilters(stop: (reason: unknown) => void): () => void;
}

/**
 * Runs `run` inside the filters: every `before` in order (the first that throws rejects the call),
 * then `run`, then the `after` of each filter whose `before` completed, last first. A throwing
 * `after` is reported to `onError` and never changes the outcome.
 *
 * Synchronous hooks run synchronously, and so does `run` after them: a server filter must see
 * the state of the loop at the moment each request is dispatched (load shedding depends on it).
 *
 * While a `before` awaits, `watch` (if given) may end the call: it settles with the reason at
 * once (a `before` that never settles would hold it for ever, whatever its signal or deadline
 * said), and `run` never starts, even if that `before` resolves later; if it does, its
 * `after` runs then, with that outcome.
 */
export function withFilters<Info extends CallInfo>(
  filters: readonly Filter<Info>[],
  info: Info,
  run: () => unknown,
  onError: (e: unknown) => void,
  watch?: FilterWatch,
): Promise<unknown> {
  // Every `before` synchronous, the common case: no promise of the filters' own around the
  // call's, only the call's `then` that runs the `after`s (a promise, its settlers and a few
  // closures less per call than the awaiting path below).
  let ran = 0;
  let out: unknown;
  try {
    for (; ran < filters.length; ran++) {
      const r = filters[ran]!.before?.(info);
      // Any thenable: one whose refusal went unseen would let the call through.
      if (isThenable(r)) return awaitingFilters(filters, info, run, onError, watch, ran, r);
    }
    out = run();
  } catch (error) {
    afters(filters, ran, info, { ok: false, error }, onError);
    return Promise.reject(error);
  }
  // Any thenable: the `after`s see its value, once it has one, not the thenable.
  if (!isThenable(out)) {
    afters(filters, ran, info, { ok: true, value: out }, onError);
    return Promise.resolve(out);
  }
  return Promise.resolve(out).then(
    (value) => {
      afters(filters, ran, info, { ok: true, value }, onError);
      return value;
    },
    (error: unknown) => {
      afters(filters, ran, info, { ok: false, error }, onError);
      throw error;
    },
  );
}

/** The `after` of each of the first `ran` filters, last first; one that throws is reported. */
function afters<Info extends CallInfo>(filters: readonly Filter<Info>[], ran: number, info: Info, outcome: Outcome, onError: (e: unknown) => void): void {
  for (let i = ran - 1; i >= 0; i--) runAfter(filters[i]!, info, outcome, onError);
}

/**
 * One filter's `after`. An `async after` type-checks against its `void` return, so what it
 * returns may be a promise: it is not waited for (the outcome is the call's), but its
 * rejection is reported as a throw is. Left alone it was a rejection nobody handles, which
 * ends a Node process: a server's, for a logging filter's failed write.
 */
function runAfter<Info extends CallInfo>(filter: Filter<Info>, info: Info, outcome: Outcome, onError: (e: unknown) => void): void {
  try {
    const r: unknown = filter.after?.(info, outcome);
    if (isThenable(r)) Promise.resolve(r).then(undefined, (e: unknown) => report(onError, e));
  } catch (e) {
    report(onError, e);
  }
}

/** `withFilters` from the `before` at `ran`, which returned `pending`: the rest waits for it, and `watch` may end the call meanwhile. */
function awaitingFilters<Info extends CallInfo>(
  filters: readonly Filter<Info>[],
  info: Info,
  run: () => unknown,
  onError: (e: unknown) => void,
  watch: FilterWatch | undefined,
  ran: number,
  pending: PromiseLike<void>,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let unwatch: (() => void) | undefined;
    let final: Outcome | undefined;
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      final = outcome;
      unwatch?.();
      afters(filters, ran, info, outcome, onError);
      if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    };
    const fail = (error: unknown): void => finish({ ok: false, error });
    const wait = (r: PromiseLike<void>): void => {
      if (watch !== undefined && unwatch === undefined) unwatch = watch.watchFilters(fail); // may end the call at once
      Promise.resolve(r).then(() => (settled ? lateAfter(filters[ran]!, info, final!, onError) : (ran++, next())), fail);
    };
    const next = (): void => {
      try {
        for (; ran < filters.length; ran++) {
          const r = filters[ran]!.before?.(info);
          if (isThenable(r)) return wait(r);
        }
        // The call's own path heeds its signal from here.
        unwatch?.();
        const out = run();
        if (isThenable(out)) Promise.resolve(out).then((value) => finish({ ok: true, value }), fail);
        else finish({ ok: true, value: out });
      } catch (error) {
        fail(error);
      }
    };
    wait(pending);
  });
}

/**
 * A `before` that completed after its call ended gets its `after` too (what it took, a slot or a
 * lease, it gives back), with the outcome the caller saw.
 */
function lateAfter<Info extends CallInfo>(filter: Filter<Info>, info: Info, outcome: Outcome, onError: (e: unknown) => void): void {
  runAfter(filter, info, outcome, onError);
}

/**
 * Tells `onError` what an `after` threw. `onError` throwing in turn (a logger that cannot
 * write a circular value) must not stop the loop that settles the call: the call would never
 * settle, and the throw would reject a promise nobody handles.
 */
function report(onError: (e: unknown) => void, e: unknown): void {
  try {
    onError(e);
  } catch {
    // Its `after`'s error is lost; the call's outcome is not.
  }
}

/**
 * A fresh CallInfo: one per call, never shared. A client call's is a ClientCallInfo, whose
 * `setMetadata` writes the metadata that call sends (it takes `route` and `metadata` of `extra`:
 * the rest are the server's).
 */
export function callInfo(side: 'server', service: string, method: string, arg: unknown, extra?: CallInfoExtra): ServerCallInfo;
export function callInfo(side: 'client' | 'server', service: string, method: string, arg: unknown, extra?: CallInfoExtra): CallInfo;
export function callInfo(side: 'client' | 'server', service: string, method: string, arg: unknown, extra: CallInfoExtra = {}): CallInfo {
  if (side === 'client') return new ClientCallInfo(service, method, arg, extra.route, extra.metadata);
  // A server call always has metadata (none sent: empty), as its type says.
  const metadata = extra.metadata ?? NO_METADATA;
  return { service, method, action: `${service}.${method}`, side, arg, ...extra, metadata, startedAt: performance.now(), meta: {}, setMetadata: refuseReceivedMetadata };
}

/** What `callInfo` sets besides the call's name and argument: a client's takes `route` and `metadata`, a server's all of them. */
export type CallInfoExtra = { peer?: string; route?: string; principal?: unknown; identity?: PeerIdentity; metadata?: Metadata };

/** A server call's metadata when none was given: empty, inheriting nothing, never written. */
const NO_METADATA: Metadata = Object.freeze(Object.create(null) as Metadata);

/** A server filter's write. Taken off its info, it has no action to name: it still throws this, not a TypeError about `action`. */
function refuseReceivedMetadata(this: { action?: string } | undefined): never {
  const action = typeof this?.action === 'string' ? `${this.action}: ` : '';
  throw new TypeError(`${action}setMetadata is for client filters; a server filter's call came with the client's metadata (info.metadata)`);
}
