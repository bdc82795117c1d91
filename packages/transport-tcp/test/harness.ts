import { afterMacrotask, type Address, type ByteConn, type FrameConn, type FrameListener, type FrameSpec, type Runtime, type Transport } from '@skein/core';
import { closeRecorder, waitFor } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport, type TcpTransportOptions } from '../src/index.js';
import { header, noise, spec } from './spec.js';

/** A bound FrameConn and everything its handlers were told. */
export interface FrameRecorder {
  readonly conn: FrameConn;
  readonly frames: { header: Uint8Array; body: Uint8Array }[];
  readonly closeCalls: (Error | undefined)[];
  drains: number;
  /** How many frames had arrived when the end handler ran, once it has. */
  endedAfter: number | undefined;
  readonly closed: Promise<Error | undefined>;
  /** Resolves once `n` frames have arrived; rejects if the connection closes first. */
  frameCount(n: number): Promise<void>;
}

/** What a test connection does beyond recording: an `end` here is bound as the end handler. */
export interface Behaviour {
  frame?(body: Uint8Array, rec: FrameRecorder): void;
  end?(rec: FrameRecorder): void;
}

export function recordFrames(conn: FrameConn, behaviour: Behaviour = {}): FrameRecorder {
  const closing = closeRecorder();
  const rec: FrameRecorder = {
    conn,
    frames: [],
    closeCalls: closing.calls,
    drains: 0,
    endedAfter: undefined,
    closed: closing.closed,
    frameCount: async (n) => {
      await waitFor(() => rec.frames.length >= n || rec.closeCalls.length > 0, { what: `${n} frames` });
      if (rec.frames.length < n) throw new Error(`closed (${rec.closeCalls[0]}) after ${rec.frames.length} of ${n} frames`);
    },
  };
  const onEnd = behaviour.end;
  const end = (): void => {
    rec.endedAfter = rec.frames.length;
    onEnd!(rec);
  };
  conn.bind({
    frame: (bytes, start, end) => {
      const header = bytes.subarray(start, start + 4);
      const body = bytes.subarray(start + 4, end);
      rec.frames.push({ header, body });
      behaviour.frame?.(body, rec);
    },
    drain: () => rec.drains++,
    close: closing.close,
    ...(onEnd && { end }),
  });
  return rec;
}

/** The node runtime, with every ByteConn.write call on connections it makes recorded. */
export function recordingRuntime(runtime: Runtime = nodeRuntime): { runtime: Runtime; writes: Uint8Array[][] } {
  const writes: Uint8Array[][] = [];
  const record = (conn: ByteConn): ByteConn =>
    wrap(conn, {
      write: (chunks) => {
        writes.push([...chunks]);
        return conn.write(chunks);
      },
    });
  return { runtime: wrapRuntime(runtime, record), writes };
}

/**
 * The node runtime, counting the bytes each connection it accepts (or, with `made`, makes) has
 * received, in order, and the length of the chunk each one is handing the transport now (its
 * last chunk, once handed), and whether it is handing one now.
 */
export function countingRuntime(
  runtime: Runtime = nodeRuntime,
  side: 'accepted' | 'made' = 'accepted',
): { runtime: Runtime; received: number[]; chunk: number[]; handling: boolean[] } {
  const received: number[] = [];
  const chunk: number[] = [];
  const handling: boolean[] = [];
  const count = (conn: ByteConn): ByteConn => {
    const i = received.push(0) - 1;
    chunk.push(0);
    handling.push(false);
    return wrap(conn, {
      bind: (handlers) =>
        // Each handler called on `handlers`, not copied off it: a transport may give an object whose handlers are its class's methods.
        conn.bind({
          data: (bytes) => {
            received[i]! += bytes.length;
            chunk[i] = bytes.length;
            handling[i] = true;
            try {
              handlers.data(bytes);
            } finally {
              handling[i] = false;
            }
          },
          drain: () => handlers.drain(),
          ...(handlers.end && { end: () => handlers.end!() }),
          close: (err) => handlers.close(err),
        }),
    });
  };
  const asIs = (conn: ByteConn): ByteConn => conn;
  return { runtime: side === 'accepted' ? wrapRuntime(runtime, count, asIs) : wrapRuntime(runtime, asIs, count), received, chunk, handling };
}

type Wrapper = (conn: ByteConn) => ByteConn;

/** `runtime`, with the connections it accepts passed through `wrapAccepted`, and those it makes through `wrapMade`. */
function wrapRuntime(runtime: Runtime, wrapAccepted: Wrapper, wrapMade: Wrapper = wrapAccepted): Runtime {
  return {
    name: runtime.name,
    clock: runtime.clock,
    connect: async (address, options) => wrapMade(await runtime.connect(address, options)),
    listen: (address, accept) => runtime.listen(address, (conn) => accept(wrapAccepted(conn))),
  };
}

/** `conn` with some of its methods replaced. */
function wrap(conn: ByteConn, replaced: Partial<ByteConn>): ByteConn {
  return {
    remote: conn.remote,
    bind: (handlers) => conn.bind(handlers),
    write: (chunks) => conn.write(chunks),
    pause: () => conn.pause(),
    resume: () => conn.resume(),
    end: () => conn.end(),
    close: () => conn.close(),
    ...replaced,
  };
}

/** A server whose accepted connections are recorded, each behaving as told. */
export interface Server {
  readonly listener: FrameListener;
  readonly accepted: FrameRecorder[];
  next(): Promise<FrameRecorder>;
}

export async function serve(
  transport: Transport,
  behaviour: Behaviour = {},
  { address = { host: '127.0.0.1', port: 0 }, frameSpec = spec }: { address?: Address; frameSpec?: FrameSpec } = {},
): Promise<Server> {
  const accepted: FrameRecorder[] = [];
  let taken = 0;
  const listener = await transport.listen(address, frameSpec, (conn) => accepted.push(recordFrames(conn, behaviour)));
  return {
    listener,
    accepted,
    next: async () => {
      await waitFor(() => accepted.length > taken, { what: 'an accepted connection' });
      return accepted[taken++]!;
    },
  };
}

/** Sends each frame straight back. */
export const echo = (body: Uint8Array, rec: FrameRecorder): void => {
  const { header } = rec.frames[rec.frames.length - 1]!;
  rec.conn.write(header);
  rec.conn.write(body);
};

export const tcp = (options?: TcpTransportOptions, runtime: Runtime = nodeRuntime): Transport => tcpTransport(runtime, options);

/** Once the macrotasks scheduled so far with `afterMacrotask` have run (they run in order). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => afterMacrotask(() => resolve()));

/** A long frame's body length; not a power of two, so that no other buffer of a test is this long. */
export const LONG_BODY = 8 * 1024 * 1024 + 12_345;
/** The long frame's length, header included. */
export const LONG_FRAME = 4 + LONG_BODY;

/**
 * The long frame's first bytes, just past half of it: what a peer that stalls there has sent.
 * Made apart, so that no temporary of theirs is counted in what a test measures held.
 */
export function longFramePastHalf(): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(LONG_FRAME / 2) + 256 * 1024);
  bytes.set(header(LONG_BODY));
  bytes.set(noise(bytes.length - 4, 7), 4);
  return bytes;
}

/**
 * A plain socket (no transport of its own: it writes bytes as told) to a new recorded server on
 * `transport`, both closed by `cleanup`, and the server's side of it.
 */
export async function rawSender(transport: Transport, cleanup: (() => unknown)[]): Promise<{ sender: ByteConn; rec: FrameRecorder }> {
  const server = await serve(transport);
  cleanup.push(() => server.listener.close());
  const sender = await nodeRuntime.connect(server.listener.address);
  sender.bind({ data: () => {}, drain: () => {}, end: () => {}, close: () => {} });
  cleanup.push(() => sender.close());
  return { sender, rec: await server.next() };
}
