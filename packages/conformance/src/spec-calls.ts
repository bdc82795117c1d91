import type { FrameConn, FrameSpec, Transport } from '@skein/core';

/**
 * On each spec the kit hands a transport: the spec it stands for. A copy (`{ ...spec }`,
 * `Object.assign`) keeps it, so a `bodyLength` called on a copy finds it on `this` too.
 */
const STANDS_FOR = Symbol('skein.conformance.specOf');

/** A transport whose frame specs are watched for how their `bodyLength` is called. */
export interface SpecCallWatch {
  readonly transport: Transport;
  /** The specs whose `bodyLength` was called other than as their method (detached, or on another object), in words; [] when none. */
  detached(): string[];
}

/**
 * `inner`, handed specs whose `bodyLength` checks that `this` is its spec or a copy of it: the
 * listener's (listen), each server connection's (FrameConn.setFrameSpec), each client
 * connection's (connect), and the `outbound` of each. FrameSpec says a transport calls it as the
 * spec's method (`spec.bodyLength(bytes, at)`, as core's `frameBodyLength` does), never detached,
 * since a spec may read its own fields: a Skein server's connection specs share one `bodyLength`
 * that does. A call with another `this` is noted, and answered by the spec as if called right,
 * so the rest of the suite runs on and this rule alone is named.
 */
export function watchSpecCalls(inner: Transport): SpecCallWatch {
  const wrong = new Map<string, number>();
  const note = (whose: string, self: unknown): void => {
    const what = `${whose}: bodyLength was called with \`this\` ${shown(self)}`;
    wrong.set(what, (wrong.get(what) ?? 0) + 1);
  };
  const checked = (spec: FrameSpec, whose: string): FrameSpec => {
    function bodyLength(this: unknown, bytes: Uint8Array, at: number): number {
      if (!isCopyOf(this, spec)) note(whose, this);
      return spec.bodyLength(bytes, at);
    }
    // Its own fields too (a server's spec reads them), and an outbound only where it had one.
    const own = { ...spec, headerLength: spec.headerLength, bodyLength, [STANDS_FOR]: spec };
    return spec.outbound === undefined ? own : { ...own, outbound: checked(spec.outbound, `${whose}'s outbound spec`) };
  };
  const serverConn = (conn: FrameConn): FrameConn =>
    new Proxy(conn, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'setFrameSpec' && typeof value === 'function') return (next: FrameSpec) => target.setFrameSpec!(checked(next, "a server connection's spec (setFrameSpec)"));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  const transport: Transport = {
    name: inner.name,
    connect: (address, spec, options) => inner.connect(address, checked(spec, "a client connection's spec (connect)"), options),
    listen: (address, spec, accept, options) => inner.listen(address, checked(spec, "the listener's spec (listen)"), (conn) => accept(serverConn(conn)), options),
    ...(inner.reloadTls && { reloadTls: (tls) => inner.reloadTls!(tls) }),
    ...(inner.tlsGeneration && { tlsGeneration: () => inner.tlsGeneration!() }),
  };
  return {
    transport,
    detached: () =>
      [...wrong].map(
        ([what, n]) =>
          `${what} (${n === 1 ? 'once' : `${n} times`}), not the spec nor a copy of it: call it as the spec's method, spec.bodyLength(bytes, at) (core's frameBodyLength(spec, bytes, at) does), ` +
          'never as a function taken off the spec (const f = spec.bodyLength; f(bytes, at)): a spec may read its own fields, as a Skein server\'s does (FrameSpec.bodyLength, docs/transports.md); a copy ({ ...spec }) is fine',
      ),
  };
}

/** `self` is `spec`'s stand-in the kit made, or a copy of it (an object carrying its mark, own or inherited). */
function isCopyOf(self: unknown, spec: FrameSpec): boolean {
  return typeof self === 'object' && self !== null && (self as { [STANDS_FOR]?: FrameSpec })[STANDS_FOR] === spec;
}

function shown(self: unknown): string {
  if (self === undefined) return 'undefined (called detached)';
  if (self === globalThis) return 'the global object (called detached)';
  if (typeof self === 'object' && self !== null && STANDS_FOR in self) return 'another spec';
  return `an object that is not its spec (${typeof self === 'object' && self !== null ? Object.keys(self).slice(0, 4).join(', ') || 'no own fields' : typeof self})`;
}
