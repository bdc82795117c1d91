import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { ConnPool, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A pool gives each connect under way its abort (its close aborts them all), and many may be
 * under way at once: up to `maxConnections`. Each connect listens for its abort while it waits
 * (the transport's connect, the credentials' verdict); on one signal shared by all of them, an
 * eleventh listener makes Node warn of an EventTarget leak ("MaxListenersExceededWarning"),
 * where there is none. Real server: the first connection is granted, the others' verdicts hang.
 */
const cleanup = cleanups();
const CONNECTS = 12;

describe('a pool with many connects under way', () => {
  it('makes Node warn of no listener leak (one abort signal per connect), and closes', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    cleanup.push(() => void process.off('warning', onWarning));
    const held = deferred<Uint8Array>();
    cleanup.push(() => held.resolve(new Uint8Array()));
    let verdicts = 0;
    const server = new RpcServer({
      dispatch: createRouter({ 1: () => held.promise }),
      // The first connection is granted; every later one waits for a verdict that never comes.
      authenticate: () => (++verdicts === 1 ? { principal: {} } : new Promise(() => {})),
    });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const address = 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`;
    const pool = new ConnPool({ transport, address, maxConnections: CONNECTS + 1, stream: { credentials: 'token', window: 1 } });
    cleanup.push(() => pool.destroy());
    // The first call fills the one window; each later one finds every window full and opens a connection.
    const outcome = (call: Promise<unknown>): Promise<unknown> => call.then(() => undefined, (e: unknown) => e);
    const calls = [outcome(pool.call(1))];
    await waitFor(() => pool.connections === 1 && verdicts === 1);
    for (let i = 0; i < CONNECTS; i++) calls.push(outcome(pool.call(1)));
    await waitFor(() => verdicts === CONNECTS + 1);
    // Node emits its warning on the next tick: one macrotask later it is in.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
    held.resolve(new Uint8Array());
    await within(pool.close(), 10_000, 'the pool to close');
    const outcomes = await Promise.all(calls);
    expect(outcomes[0]).toBeUndefined();
    for (const e of outcomes.slice(1)) expect(e === undefined || (e as { code: number }).code === ErrorCode.Closed).toBe(true);
  });
});
