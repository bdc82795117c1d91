import type { Address, ByteConn, ByteListener, ListenOptions } from '@skein/core';
import { closeRecorder, waitFor } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';

/** A bound ByteConn and everything its handlers were told. */
export interface Recorder {
  readonly conn: ByteConn;
  readonly chunks: Uint8Array[];
  readonly closeCalls: (Error | undefined)[];
  drains: number;
  ends: number;
  /** The close handler's argument, once it is called. */
  readonly closed: Promise<Error | undefined>;
  text(): string;
  /** Resolves once the received bytes read `expected`. */
  receives(expected: string): Promise<void>;
}

/** Binds `conn` to a recorder; with `onEnd`, to an end handler that calls it. */
export function record(conn: ByteConn, onEnd?: (rec: Recorder) => void): Recorder {
  const closing = closeRecorder();
  const rec: Recorder = {
    conn,
    chunks: [],
    closeCalls: closing.calls,
    drains: 0,
    ends: 0,
    closed: closing.closed,
    text: () => Buffer.concat(rec.chunks).toString(),
    receives: async (expected) => {
      await waitFor(() => rec.text() === expected || rec.closeCalls.length > 0, { what: `"${expected}"` });
      if (rec.text() !== expected) throw new Error(`closed after receiving "${rec.text()}", not "${expected}"`);
    },
  };
  const end = (): void => {
    rec.ends++;
    onEnd!(rec);
  };
  conn.bind({
    data: (chunk) => rec.chunks.push(chunk),
    drain: () => rec.drains++,
    close: closing.close,
    ...(onEnd && { end }),
  });
  return rec;
}

/** A listener whose accepted connections queue up, unbound, for the test to take. */
export interface AcceptQueue {
  readonly listener: ByteListener;
  next(): Promise<ByteConn>;
}

export async function listenQueue(address: Address, options?: ListenOptions): Promise<AcceptQueue> {
  const waiting: ByteConn[] = [];
  const listener = await nodeRuntime.listen(address, (conn) => waiting.push(conn), options);
  return {
    listener,
    next: async () => {
      await waitFor(() => waiting.length > 0, { what: 'an accepted connection' });
      return waiting.shift()!;
    },
  };
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Lets every pending I/O callback, immediate and close callback run a few times over. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/** A connection to `q`'s listener at `address`, both ends bound and recorded. */
export async function connectPair(
  q: AcceptQueue,
  address: Address = q.listener.address,
): Promise<{ client: Recorder; server: Recorder; closeBoth(): void }> {
  const client = record(await nodeRuntime.connect(address));
  const server = record(await q.next());
  const closeBoth = (): void => {
    client.conn.close();
    server.conn.close();
  };
  return { client, server, closeBoth };
}

/** Checks that `q`'s listener serves: a new connection's bytes reach the accepted side. */
export async function expectServes(q: AcceptQueue): Promise<void> {
  const { client, server, closeBoth } = await connectPair(q);
  client.conn.write([bytes('hello')]);
  await server.receives('hello');
  closeBoth();
}
