import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { portOf, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createServiceDispatch, implement, method, service } from '../src/index.js';
import { transport } from './harness.js';

const Svc = service('Svc', { slow: method<number, number>() });

const cleanup = cleanups();

const CAP = 4;
const CALLS = 40;

/** A razor v1 request frame (docs/razor-protocol.md): a string action, then the msg, no blob. */
function v1Request(action: string, seq: number, msg: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(action);
  const out = new Uint8Array(32 + name.length + msg.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0x4d25, true); // magic
  out[2] = 1; // version
  v.setUint32(4, (0x8000_0000 | name.length) >>> 0, true);
  v.setUint32(8, seq, true);
  v.setUint32(24, msg.length, true);
  out.set(name, 32);
  out.set(msg, 32 + name.length);
  return out;
}

/**
 * handlerTimeoutMs answers Timeout and frees the slot of a handler that ignores its signal, which
 * runs on. A peer that never sends a hello (razor v1, or a stranger that skips it on purpose) must
 * be held to twice maxInFlightPerConn handlers at once as a Skein client is: it is the cheapest
 * way round the cap, and each handler left running holds memory the peer never paid for.
 */
describe('handlers timed out by the server on a connection without a hello', () => {
  it('count until they end: at most twice maxInFlightPerConn run at once, and every call runs once they end', async () => {
    const run = { now: 0, max: 0, total: 0, ends: [] as (() => void)[] };
    const slow = (n: number) => {
      run.total++;
      run.max = Math.max(run.max, ++run.now);
      return new Promise<number>((resolve) => run.ends.push(() => (run.now--, resolve(n))));
    };
    const server = new RpcServer({
      dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, handlerTimeoutMs: 50, services: [implement(Svc, { slow })] }),
      maxInFlightPerConn: CAP,
      closeWaitMs: 0,
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const peer = await rawConnect(`127.0.0.1:${portOf(a)}`);
    cleanup.push(() => peer.destroy());
    for (let seq = 1; seq <= CALLS; seq++) peer.write(v1Request('Svc.slow', seq, msgpackCodec.encode(seq)));
    await waitFor(() => run.max >= 2 * CAP, { what: 'handlers started' });
    // Several sweeps (one each 50 ms): none may let more handlers start while these run.
    await new Promise((r) => setTimeout(r, 500));
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
    // Not wedged: as they end, the calls behind them run, every one.
    await waitFor(() => (run.ends.splice(0).forEach((end) => end()), run.total === CALLS || undefined), { what: 'every call run' });
    run.ends.splice(0).forEach((end) => end());
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
  });
});
