import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, connectRazorClient, startRazorServer, within, type RazorClient } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool } from '../src/index.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { startServer, transport } from './harness.js';

// Three hops in a mixed fleet: a Skein client's FailoverPool → razor v1 servers whose handler
// calls a Skein server with a razor v1 client and passes its answer on as it came (razor knows
// no `rpc_closed`: to it, a custom error's bytes) → a Skein server that refuses the call unrun,
// bare (a draining server, a throttle). The razor handler ran: a refusal it passes on must not
// read as the client's own server refusing it unrun (`retry: 'safe'`), or the pool runs a call
// that is not idempotent again on the other razor server.

const cleanup = cleanups();

/** A Skein server that refuses `Back.charge` itself, unrun and bare, with `code`. */
async function refusingBack(code: ErrorCode): Promise<string> {
  const s = await startServer({ 'Back.charge': (req) => req.fail(code) }, { logger: silentLogger });
  cleanup.push(() => s.server.close());
  return s.address;
}

/** A razor v1 server whose `Front.pay` counts its run, then relays the call to `Back.charge` at `back`, answering as Back did. */
async function razorRelay(back: string, runs: { front: number }): Promise<string> {
  let client: RazorClient | undefined;
  const r = await startRazorServer({
    'Front.pay': async (msg) => {
      runs.front++;
      client ??= await connectRazorClient(back);
      const reply = await client.call('Back.charge', msg);
      return reply.flag === 0 ? reply.body : { error: reply.body.toString('utf8') };
    },
  });
  cleanup.push(() => (client?.destroy(), r.close()));
  return r.address;
}

describe('a razor v1 server passing on a Skein server\'s refusal', () => {
  it.each([ErrorCode.Closed, ErrorCode.Overloaded])('%s: the razor handler ran, so a call that is not idempotent fails "may have run" and is not moved', async (code) => {
    const runs = { front: 0 };
    const back = await refusingBack(code);
    const pool = new FailoverPool({ transport, servers: [await razorRelay(back, runs), await razorRelay(back, runs)], strategy: 'leader', retries: 2, retryBudget: { ratio: 10 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const err = await pool.call('Front.pay', new Uint8Array([1])).then(() => new Error('expected the call to fail'), (e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
    expect((err as RpcError).message).toContain('may have executed');
    expect(runs.front).toBe(1);
  });

  it('an idempotent call still moves on to the other razor server', async () => {
    const runs = { front: 0 };
    const back = await refusingBack(ErrorCode.Closed);
    const pool = new FailoverPool({ transport, servers: [await razorRelay(back, runs), await razorRelay(back, runs)], strategy: 'leader', retries: 1, retryBudget: { ratio: 10 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const err = await pool.call('Front.pay', new Uint8Array([1]), { idempotent: true }).then(() => new Error('expected the call to fail'), (e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent' });
    expect(runs.front).toBe(2);
  });
});

describe('a bare refusal without a razor handler in between', () => {
  it('with no hello sent (limits under 1 KiB): a bare Closed stays safe', async () => {
    const s = await startServer({ 'Back.charge': (req) => req.fail(ErrorCode.Closed) }, { logger: silentLogger });
    cleanup.push(() => s.server.close());
    const stream = await s.connect({ limits: { maxMessage: 512, maxBlob: 512 } });
    cleanup.push(() => stream.destroy());
    const err = await stream.call('Back.charge').then(() => new Error('expected the call to fail'), (e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  });

  it('from a server that answers the hello rpc_method_notfound (a Skein server from before the hello, or a razor that fixed defect 6): may have run', async () => {
    // Played by the v1 test server: the hello's action answered as such a server's router
    // answers any unknown one, and a bare refusal. A razor server answering so passes a
    // downstream's refusal on: read as its own, a pool would run the call again elsewhere.
    const old = await startRazorServer({ [HELLO_ACTION]: () => ({ error: 'rpc_method_notfound' }), 'Back.charge': () => ({ error: 'rpc_closed' }) });
    cleanup.push(() => old.close());
    const stream = await ClientStream.connect({ transport, address: old.address });
    cleanup.push(() => stream.destroy());
    const err = await stream.call('Back.charge').then(() => new Error('expected the call to fail'), (e: unknown) => e);
    expect(stream.dialect).toBe('v1');
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent' });
  });
});
