import { silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, fullGc, portOf, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { CountingSource } from './counting-source.js';

// A ClientStream refills its window a microtask after an abort (PumpSoon, made at the first
// abort). What it keeps for that must be itself only: not the first aborted call, nor what that
// call was made with (its signal, its abort source: a handler's request, with all it holds),
// for as long as the connection lives. Real sockets; a full collection decides, no timing.

const cleanup = cleanups();
const transport = tcpTransport(nodeRuntime);

describe('a ClientStream whose calls were aborted on the wire', () => {
  it('holds neither the aborted calls nor their signals or abort sources once they settled', async () => {
    let received = 0;
    const server = new RpcServer({ logger: silentLogger, dispatch: createRouter({ 1: () => {
          received++;
          return new Promise<never>(() => {});
        } }) });
    const bound = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(bound)}`, logger: silentLogger });
    cleanup.push(() => stream.destroy());

    // In a function of its own: nothing of the call stays on this test's frame. (Not a signal:
    // the last few signals seen are held by design, see signal-listeners.ts.)
    const abortedOnTheWire = async (): Promise<WeakRef<object>> => {
      // An abort source of the test's own: what a handler's context is to a call made with it.
      const src = new CountingSource(new Error('the call it was made for ended'));
      const call = stream.call(1, new Uint8Array(16), { abortSource: src });
      // On the wire (the server has it), answered by nobody: the abort frees its slot.
      await waitFor(() => received === sent + 1);
      sent++;
      src.abort();
      await call.catch(() => undefined);
      return new WeakRef(src);
    };
    let sent = 0;
    const first = await abortedOnTheWire();
    const second = await abortedOnTheWire();
    // The stream goes on, as a long-lived connection does.
    await stream.ping();
    fullGc();
    fullGc();
    expect(stream.state).toBe('open');
    expect(second.deref()).toBeUndefined();
    // Before: the first abort's refill (PumpSoon) was made inside that call's abort listener,
    // whose scope (the call, its unhook, its source) it kept for the stream's life.
    expect(first.deref()).toBeUndefined();
  });
});
