import type { FrameConn, Transport } from '@skein/core';

/** docs/protocol.md: a request's header is 32 bytes (action u32 at 4, seq u64 at 8, msg_len u32 at 24); the hello is action 0x7FFF_FF00, seq 0. */
const HEADER = 32;
const HELLO_ACTION = 0x7fff_ff00;

/**
 * `transport`, the hellos of the connections it makes without the entry of `kind`: a Skein
 * client through it speaks as an older one that did not offer that kind (24: it does not keep its
 * window within the server's cap, so it sends past it, as a greedy or older client does), and the
 * server answers it as it would answer one. Only the hello is changed. Read from the bytes
 * (docs/protocol.md, "The hello"): no package's internals are needed.
 */
export function olderSkeinClient(transport: Transport, kind: number): Transport {
  return helloRewritten(transport, (hello) => withoutKind(hello, kind));
}

/**
 * `transport`, the hellos of the connections it makes with the entry of `kind` sent empty: the
 * server reads the offer as one from before that kind took a value reads it, and answers as such
 * a server would (27, reply metadata: one from before its u32 bound read every offer as empty,
 * held heads to 8 KiB and answered empty). Only the hello is changed.
 */
export function olderSkeinServerOffer(transport: Transport, kind: number): Transport {
  return helloRewritten(transport, (hello) => withoutKind(hello, kind, true));
}

/** `transport`, each connection it makes writing its hello as `rewrite` makes it; every other write as it is. */
function helloRewritten(transport: Transport, rewrite: (hello: Uint8Array) => Uint8Array): Transport {
  const rewriting = (conn: FrameConn): FrameConn => {
    const write = conn.write.bind(conn);
    conn.write = (part) => write(isHello(part) ? rewrite(part) : part);
    return conn;
  };
  return {
    name: transport.name,
    connect: async (address, spec, opts) => rewriting(await transport.connect(address, spec, opts)),
    listen: (address, spec, accept, options) => transport.listen(address, spec, accept, options),
  };
}

function isHello(part: Uint8Array): boolean {
  if (part.length < HEADER) return false;
  const v = new DataView(part.buffer, part.byteOffset, part.byteLength);
  return v.getUint32(4, true) === HELLO_ACTION && v.getUint32(8, true) === 0 && v.getUint32(12, true) === 0;
}

/** The hello request `part` (one whole frame, as a client writes it) without its entries of `kind` (`emptied`: with them, their values left out). */
function withoutKind(part: Uint8Array, kind: number, emptied = false): Uint8Array {
  const v = new DataView(part.buffer, part.byteOffset, part.byteLength);
  const msgEnd = HEADER + v.getUint32(24, true);
  const kept: Uint8Array[] = [part.subarray(HEADER, HEADER + 2)];
  for (let at = HEADER + 2; at + 4 <= msgEnd; ) {
    const length = 4 + v.getUint16(at + 2, true);
    if (v.getUint16(at, true) !== kind) kept.push(part.subarray(at, at + length));
    else if (emptied) kept.push(Uint8Array.of(kind & 0xff, kind >>> 8, 0, 0));
    at += length;
  }
  const msgLength = kept.reduce((n, k) => n + k.length, 0);
  const out = new Uint8Array(HEADER + msgLength + (part.length - msgEnd));
  out.set(part.subarray(0, HEADER));
  new DataView(out.buffer).setUint32(24, msgLength, true);
  let at = HEADER;
  for (const k of kept) (out.set(k, at), (at += k.length));
  out.set(part.subarray(msgEnd), at);
  return out;
}
