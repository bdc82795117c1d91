import { invalidArgument } from '@skein/core';
import type { Metadata } from '@skein/stream';
import type { CallInfo } from './call-info.js';
import { keyRefusal } from './metadata-keys.js';

/**
 * A client call's CallInfo, whose filters set the metadata it sends (`setMetadata`). Its
 * `metadata` is the caller's `metadata` option until a filter writes: each write makes a new
 * copy of this call's own, until the call is sent (`ClientCallInfo.sent`).
 *
 * Ownership is the call's, not the object's: a call whose `metadata` option is another call's
 * `info.metadata` (a filter passing its request id on to a call it makes first), or a copy
 * kept from an earlier call, copies it too, and never writes what another call sends.
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
   * The metadata the call is sent with, from now on fixed: the copy filters wrote is frozen and
   * no longer the call's, so a later write (an `after`'s, a timer a `before` left) makes a fresh
   * copy that nothing sends. A carrier may send it later (a ConnPool once its connection is up)
   * or again (a FailoverPool's next attempt): every attempt sends the same entries.
   */
  static sent(info: ClientCallInfo): Metadata | undefined {
    if (info.#copy !== undefined && info.metadata === info.#copy) Object.freeze(info.#copy);
    info.#copy = undefined;
    return info.metadata;
  }

  /**
   * A client filter's write. The copy inherits nothing, as a server's record of metadata does: a
   * key such as `__proto__` is an entry like any other, never a prototype set by assignment. A
   * `metadata` option that is no record never gets here: the stub refuses it before its filters.
   * A key the wire cannot carry (a symbol: dropped unsaid) or a reserved one (`skein-stream`)
   * throws InvalidArgument, which fails the call unsent.
   *
   * Each write makes a new copy, never writing the one before: an object read off `info.metadata`
   * stays as it was read, so a call a filter hands it to, unsent (an audit call not waited for, or
   * one a pool sends once connected), never sends what a later filter of this call writes.
   */
  private static write(this: unknown, key: string, value: string): void {
    if (typeof this !== 'object' || this === null || !(#copy in this)) throw detached();
    const why = keyRefusal(key);
    if (why !== undefined) throw invalidArgument(`${this.action}: setMetadata: ${why}`);
    const copy = Object.assign(Object.create(null) as Record<string, string>, this.metadata);
    copy[key] = value;
    this.#copy = copy;
    this.metadata = copy;
  }
}

/** Taken off its info (`const { setMetadata } = info`) or called on a copy of it, it has no call to write to: said so, never written to nowhere. */
const detached = (): TypeError =>
  new TypeError("setMetadata must be called as info.setMetadata(key, value), on the info the filter was given: taken off it, or on a copy of it ({ ...info }), it writes no call's metadata");
