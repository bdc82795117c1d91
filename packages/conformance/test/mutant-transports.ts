import type { FrameConn, FrameSpec, Transport } from '@skein/core';

/**
 * Deliberately broken transports, each a real transport with one fault: the conformance
 * scenarios must tell them from a right one. A wrapper changes only what its fault needs.
 */
export interface Faults {
  /** The server's connections never report `congested`: a transport with no back-pressure. */
  blindToCongestion?: boolean;
  /** The client's `pause()` does nothing: the connection goes on reading, and delivering, what arrives. */
  ignoresPause?: boolean;
  /** The server's connections drop reverse calls (flag 0x18): a writer that cuts what it sends into frames and passes on only the flags it knows. */
  dropsReverseCalls?: boolean;
}

/** Response flag of a call from the server to the side that connected (docs/protocol.md, "Calls both ways"). */
const REVERSE_CALL_FLAG = 0x18;

export function mutantTransport(inner: Transport, faults: Faults): Transport {
  return {
    name: inner.name,
    connect: async (address, spec, options) => {
      const conn = await inner.connect(address, spec, options);
      return faults.ignoresPause ? override(conn, { pause: () => {}, resume: () => {} }) : conn;
    },
    listen: (address, spec, accept) =>
      inner.listen(address, spec, (conn) => {
        let c = conn;
        if (faults.blindToCongestion) c = override(c, { congested: false });
        if (faults.dropsReverseCalls) c = droppingReverseCalls(c, spec.outbound ?? spec);
        accept(c);
      }),
  };
}

/** `conn` with some members replaced; the rest are its own, called on it. */
function override(conn: FrameConn, members: Partial<Record<keyof FrameConn, unknown>>): FrameConn {
  return new Proxy(conn, {
    get(target, prop) {
      if (Object.hasOwn(members, prop)) return members[prop as keyof FrameConn];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Gathers the parts written into whole frames (by `outbound`, the frames the server sends) and writes on all but reverse calls. */
function droppingReverseCalls(conn: FrameConn, outbound: FrameSpec): FrameConn {
  let pending = new Uint8Array(0);
  const write = (part: Uint8Array): void => {
    const joined = new Uint8Array(pending.length + part.length);
    joined.set(pending);
    joined.set(part, pending.length);
    let at = 0;
    while (joined.length - at >= outbound.headerLength) {
      const end = at + outbound.headerLength + outbound.bodyLength(joined, at);
      if (end > joined.length) break;
      if (joined[at + 3] !== REVERSE_CALL_FLAG) conn.write(joined.slice(at, end));
      at = end;
    }
    pending = joined.slice(at);
  };
  return override(conn, { write });
}
