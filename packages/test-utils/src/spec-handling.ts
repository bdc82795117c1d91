import type { FrameConn, FrameSpec, Transport } from '@skein/core';

/**
 * `inner`, handed each frame spec (listen's, connect's, a server connection's `setFrameSpec`, and
 * their `outbound`) as `change` makes it of the spec it was given: what a transport that handles
 * specs its own way does, for checks of FrameSpec's contract (a copy `{ ...spec }` is allowed;
 * `detachedBodyLength` is not).
 */
export function specHandling(inner: Transport, change: (spec: FrameSpec) => FrameSpec): Transport {
  const handled = (spec: FrameSpec): FrameSpec => {
    const made = change(spec);
    return spec.outbound === undefined ? made : { ...made, outbound: handled(spec.outbound) };
  };
  const conn = (c: FrameConn): FrameConn =>
    new Proxy(c, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'setFrameSpec' && typeof value === 'function') return (next: FrameSpec) => target.setFrameSpec!(handled(next));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    ...inner,
    name: inner.name,
    connect: async (address, spec, options) => conn(await inner.connect(address, handled(spec), options)),
    listen: (address, spec, accept, options) => inner.listen(address, handled(spec), (c) => accept(conn(c)), options),
  };
}

/** A spec whose `bodyLength` calls `spec`'s detached (`const f = spec.bodyLength; f(bytes, at)`): what FrameSpec forbids, since a spec may read its own fields. */
export function detachedBodyLength(spec: FrameSpec): FrameSpec {
  const f = spec.bodyLength;
  return { ...spec, bodyLength: (bytes, at) => f(bytes, at) };
}

/** A copy of `spec` (`{ ...spec }`): what FrameSpec allows, its `bodyLength` called as the copy's method. */
export function copiedSpec(spec: FrameSpec): FrameSpec {
  return { ...spec };
}
