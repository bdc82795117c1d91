import { formatAddress, type Address, type FrameConn, type FrameListener, type Transport } from '@skein/core';
import { ownListenerClosed } from './own-listener-closed.js';
import { frameOf, ownAddress, OWN_SPEC as SPEC } from './own-framing.js';
import { within } from './within.js';

/**
 * The largest frame the check sends whole: above it (transport-tcp's default 256 MiB,
 * transport-ws's 64 MiB + 64 KiB) the frame of exactly `maxFrameBytes` is not sent, nor the peer
 * bound's batch, and only the listener's and its connections' values are compared: a suite runs
 * the kit for many transports, and 64 MiB frames cost each run seconds. Give the transport a cap
 * at or under it (a few MiB) for the kit to carry frames of that size.
 */
const EXACT_FRAME_CEILING = 4 * 1024 * 1024;
/** The small frames written in one run for the peer-bound check: many per WebSocket message. */
const SMALL_FRAME_BYTES = 16 * 1024;

/** What the listening side saw: its connections, the frame sizes they delivered, and their closes. */
interface Served {
  readonly listener: FrameListener;
  readonly conns: FrameConn[];
  readonly frames: number[];
  /** Resolves once `bytes` of frames arrived, or a connection closed (with what it closed with). */
  until(bytes: number): Promise<string | undefined>;
}

async function serve(transport: Transport, at: Address): Promise<Served> {
  const conns: FrameConn[] = [];
  const frames: number[] = [];
  let received = 0;
  let closed: string | undefined;
  let wake = (): void => {};
  const listener = await transport.listen(at, SPEC, (conn) => {
    conns.push(conn);
    conn.bind({
      frame: (_b, start, end) => {
        frames.push(end - start);
        received += end - start;
        wake();
        return true;
      },
      drain: () => {},
      close: (err) => {
        closed = err ? String(err) : 'a clean close';
        wake();
      },
    });
  });
  const until = (bytes: number): Promise<string | undefined> =>
    new Promise((resolve) => {
      wake = () => (closed !== undefined ? resolve(closed) : received >= bytes && resolve(undefined));
      wake();
    });
  return { listener, conns, frames, until };
}

/**
 * What the transport did wrong with `maxFrameBytes`, in words; [] when nothing, or when neither its
 * listener nor its connections declare it. A listener of its own (next to `at`) that declares it
 * must declare the value its connections do; a connection dialled to it writes one frame of exactly the listener's
 * `maxFrameBytes` (up to EXACT_FRAME_CEILING), which must arrive whole, the connection kept.
 */
export async function maxFrameProblems(transport: Transport, at: Address, boundMs: number): Promise<string[]> {
  const served = await serve(transport, ownAddress(at));
  const where = formatAddress(served.listener.address);
  const problems: string[] = [];
  let client: FrameConn | undefined;
  try {
    client = await transport.connect(served.listener.address, SPEC, { timeoutMs: boundMs });
    client.bind({ frame: () => true, drain: () => {}, close: () => {} });
    // The server's connection is there once a first frame arrived on it.
    client.write(frameOf(SPEC.headerLength + 1, 1));
    if ((await within(served.until(SPEC.headerLength + 1), boundMs)) !== undefined) return [`a connection to ${where} did not deliver a 5-byte frame`];
    const declared = served.listener.maxFrameBytes;
    const its = served.conns[0]?.maxFrameBytes;
    if (declared === undefined && its === undefined) return [];
    // A listener that declares nothing tells its server no bound (optional), which is no wrong value.
    if (declared !== undefined && declared !== its) {
      problems.push(`the listener at ${where} declares maxFrameBytes ${String(declared)}, its connection ${String(its)}: FrameListener.maxFrameBytes is the largest whole frame its connections carry, their own value`);
    }
    const max = its ?? declared!;
    if (max > EXACT_FRAME_CEILING) return problems;
    const before = served.frames.length;
    client.write(frameOf(max, 2));
    const seen = await within(served.until(SPEC.headerLength + 1 + max), boundMs);
    if (seen !== undefined || served.frames[before] !== max) {
      problems.push(
        `a frame of exactly maxFrameBytes (${max} bytes, header included) written to ${where} ` +
          (seen === 'timeout' ? `did not arrive within ${boundMs} ms` : seen !== undefined ? `closed the connection (${seen})` : `arrived as ${served.frames[before]} bytes`) +
          ': maxFrameBytes is the largest whole frame the transport carries, that one included',
      );
    }
    return problems;
  } finally {
    client?.close();
    // A listener's close need not close what it accepted (the suite checks every close is reported).
    for (const conn of served.conns) conn.close();
    await ownListenerClosed(served.listener, where, boundMs);
  }
}

/**
 * What the transport did wrong with `setPeerMaxFrameBytes`, in words; [] when nothing, or when
 * its connections do not implement it or the listening side declares no `maxFrameBytes` (then
 * nothing it sends can be seen over the bound). A connection dialled to a listener of its own is
 * told the listening connection's `maxFrameBytes`, then writes 16 KiB frames totalling more than
 * that in one run: they must all arrive, in order, the connection kept. The kit sees the units a
 * transport packs frames into only through the peer's own bound: a unit over it (transport-ws: a
 * WebSocket message over maxWsMessageBytes, closed 1009) loses the connection. A unit over the
 * value set but within what the peer takes is not seen.
 */
export async function peerMaxFrameProblems(transport: Transport, at: Address, boundMs: number): Promise<string[]> {
  const served = await serve(transport, ownAddress(at));
  const where = formatAddress(served.listener.address);
  let client: FrameConn | undefined;
  try {
    client = await transport.connect(served.listener.address, SPEC, { timeoutMs: boundMs });
    // Bound first: a connection closed unbound reports its close to nobody.
    client.bind({ frame: () => true, drain: () => {}, close: () => {} });
    if (client.setPeerMaxFrameBytes === undefined) return [];
    client.write(frameOf(SPEC.headerLength + 1, 1));
    if ((await within(served.until(SPEC.headerLength + 1), boundMs)) !== undefined) return [`a connection to ${where} did not deliver a 5-byte frame`];
    const max = served.conns[0]?.maxFrameBytes ?? served.listener.maxFrameBytes;
    if (max === undefined || max > EXACT_FRAME_CEILING) return [];
    client.setPeerMaxFrameBytes(max);
    const count = Math.ceil((max * 3) / 2 / SMALL_FRAME_BYTES);
    const before = served.frames.length;
    for (let i = 0; i < count; i++) client.write(frameOf(SMALL_FRAME_BYTES, i & 0xff));
    const seen = await within(served.until(SPEC.headerLength + 1 + count * SMALL_FRAME_BYTES), boundMs);
    const arrived = served.frames.length - before;
    if (seen === undefined && arrived === count) return [];
    return [
      `after setPeerMaxFrameBytes(${max}) (the listening side's maxFrameBytes), ${count} frames of ${SMALL_FRAME_BYTES} bytes written to ${where} in one run: ` +
        `${arrived} arrived, ` +
        (seen === 'timeout' ? `the rest not within ${boundMs} ms` : seen !== undefined ? `then the connection closed (${seen})` : 'not as written') +
        ': a unit the transport packs frames into (a WebSocket message) must stay within the value set (FrameConn.setPeerMaxFrameBytes)',
    ];
  } finally {
    client?.close();
    // A listener's close need not close what it accepted (the suite checks every close is reported).
    for (const conn of served.conns) conn.close();
    await ownListenerClosed(served.listener, where, boundMs);
  }
}
