import { extended, invalidArgument } from '@skein/core';
import type { Metadata } from '@skein/stream';
import type { CallInfo } from './call-info.js';
import { keyRefusal } from './metadata-keys.js';

/**
 * Copies a ClientCallInfo made that its filters may still write (its call not yet sent). Weak:
 * a call dropped unsent (its `before` never settles) keeps none alive.
 */
const writable = new WeakSet<object>();

/**
 * The prototype of a filter's copy of metadata: empty, frozen, itself without one, so a copy
 * inherits nothing (`__proto__` stays a key), as on `Object.create(null)`, which V8 keeps as a
 * dictionary: freezing that, as a copy is when sent, cost about 1 µs a call (and gave each its
 * own map), against ~0.1 µs for a fast object on this prototype (stream's call-head.ts does the
 * same for the records a server reads).
 */
const COPY_PROTO: object = Object.freeze(Object.create(null) as object);
const emptyCopy = (): Record<string, string> => Object.create(COPY_PROTO) as Record<string, string>;

/**
 * A call's options as it keeps them: copied (`metadata` and all) when its `metadata` option is
 * another call's `info.metadata` that that call's filters may still write (a filter handing its
 * request id on to an audit call not waited for, or one a pool sends once connected), so this
 * call sends what it was handed, never the other call's later entries. Anything else, the
 * options themselves, no object made.
 */
export function handedOn<O extends { readonly metadata?: Metadata }>(o: O): O {
  const m = o.metadata;
  if (m === undefined || !writable.has(m)) return o;
  return extended(o, { metadata: Object.assign(emptyCopy(), m) });
}

/**
 * A client call's CallInfo, whose filters set the metadata it sends (`setMetadata`). Its
 * `metadata` is the caller's `metadata` option until a filter writes: the first write makes a
 * copy of this call's own, which later writes write, until the call is sent (`ClientCallInfo.sent`).
 *
 * Ownership is the call's, not the object's: a call whose `metadata` option is another call's
 * `info.metadata` (a filter passing its request id on to a call it makes first), or a copy
 * kept from an earlier call, copies it too, and never writes what another call sends; a call
 * handed a copy still written takes a copy of it then (`handedOn`).
 */
export class ClientCallInfo implements CallInfo {
  readonly service: string;
  readonly method: string;
  readonly action: string;
  readonly side = 'client' as const;
  readonly arg: unknown;
  readonly route: string | undefined;
  metadata: Metadata | undefined;
  readonly startedAt = performance.now();
  readonly meta: Record<string, unknown> = {};
  /**
   * One function for every call: nothing is made per call for it. An own property, not the
   * prototype's: a spread copy (`{ ...info }`) takes it along, and its call is told why it cannot
   * write, where it found no function (or, as a plain object, wrote a copy nobody sends).
   */
  readonly setMetadata: (key: string, value: string) => void = ClientCallInfo.write;
  /**
   * This call's last copy, not yet sent: frozen when sent only while `metadata` is still it, since
   * `metadata` is a field a plain-JS filter may assign (`info.metadata = shared`), and an object
   * assigned so is the filter's, never written or frozen here. Private to the class itself (`#`),
   * so that only an info made here passes the check in `write`: a spread copy or an object made on
   * it has none.
   */
  #copy: Record<string, string> | undefined = undefined;

  constructor(service: string, method: string, arg: unknown, route: string | undefined, metadata: Metadata | undefined) {
    this.service = service;
    this.method = method;
    this.action = `${service}.${method}`;
    this.arg = arg;
    this.route = route;
    this.metadata = metadata;
  }

  /**
   * Fixes the metadata the call is sent with, `info.metadata` (read it after): the copy filters
   * wrote is frozen and no longer the call's, so a later write (an `after`'s, a timer a `before`
   * left) makes a fresh copy that nothing sends. A carrier may send it later (a ConnPool once its
   * connection is up) or again (a FailoverPool's next attempt): every attempt sends the same
   * entries.
   */
  static sent(info: ClientCallInfo): void {
    const copy = info.#copy;
    if (copy === undefined) return;
    info.#copy = undefined;
    writable.delete(copy);
    if (info.metadata === copy) Object.freeze(copy);
  }

  /**
   * A client filter's write. The copy inherits nothing, as a server's record of metadata does: a
   * key such as `__proto__` is an entry like any other, never a prototype set by assignment. A
   * `metadata` option that is no record never gets here: the stub refuses it before its filters.
   * A key the wire cannot carry (a symbol: dropped unsaid) or a reserved one (`skein-stream`)
   * throws InvalidArgument, which fails the call unsent.
   *
   * The first write copies; later ones write that copy in place while `metadata` is still it
   * (a copy each write cost a call of three writing filters ~3 µs more). What an object read off
   * `info.metadata` is handed to unsent is kept from later writes where it is handed on: a call
   * given it as its `metadata` option copies it (`handedOn`).
   */
  private static write(this: unknown, key: string, value: string): void {
    if (typeof this !== 'object' || this === null || !(#copy in this)) throw detached();
    const why = keyRefusal(key);
    if (why !== undefined) throw invalidArgument(`${this.action}: setMetadata: ${why}`);
    let copy = this.#copy;
    // Not (or no longer) this call's copy: a caller's, another call's, or one a filter assigned.
    if (copy === undefined || this.metadata !== copy) {
      if (copy !== undefined) writable.delete(copy);
      copy = Object.assign(emptyCopy(), this.metadata);
      writable.add(copy);
      this.#copy = copy;
      this.metadata = copy;
    }
    copy[key] = value;
  }
}

/** Taken off its info (`const { setMetadata } = info`) or called on a copy of it, it has no call to write to: said so, never written to nowhere. */
const detached = (): TypeError =>
  new TypeError("setMetadata must be called as info.setMetadata(key, value), on the info the filter was given: taken off it, or on a copy of it ({ ...info }), it writes no call's metadata");
