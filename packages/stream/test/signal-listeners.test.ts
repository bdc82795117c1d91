import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { abortListeners, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ClientStream } from '../src/index.js';
import { startServer } from './harness.js';

/*
 * One AbortSignal given to many calls at once (a request's whole work, a shutdown signal): the
 * calls listen to it through one listener of their own, so it carries one listener however many
 * are out, prints no "possible memory leak" warning, and keeps none once they settle; its abort
 * still cancels every call out with it, and only those. Real loopback servers that hold calls
 * until told.
 */

const cleanup = cleanups();

/** A server whose `hold` calls wait until `release()`, and a client with room for `window` calls. */
async function holding(window = 1024): Promise<{ client: ClientStream; held: () => number; release: () => void }> {
  const waiting: (() => void)[] = [];
  const s = await startServer({ hold: () => new Promise<Uint8Array>((resolve) => waiting.push(() => resolve(new Uint8Array(1)))) }, { logger: silentLogger, closeWaitMs: 0 });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ logger: silentLogger, keepaliveMs: 0, window });
  cleanup.push(() => client.destroy());
  return { client, held: () => waiting.length, release: () => waiting.splice(0).forEach((r) => r()) };
}

const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'answered', (e: unknown) => (RpcError.is(e, ErrorCode.Cancelled) ? 'cancelled' : String(e)));

describe('one signal given to many calls', () => {
  it("carries one or two listeners for 300 calls out (the first call's own, then theirs), none once they are answered, and warns of nothing", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const { client, held, release } = await holding();
    // A plain signal, as a caller has one: Node warns past 10 listeners on it.
    const signal = new AbortController().signal;
    const calls = Array.from({ length: 300 }, () => outcome(client.call('hold', new Uint8Array(1), { signal })));
    await waitFor(() => held() === 300);
    expect(abortListeners(signal)).toBeLessThanOrEqual(2);
    release();
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['answered']));
    expect(abortListeners(signal)).toBe(0);
    // Emitted on the next tick after the listener that crossed the threshold.
    await new Promise((r) => setImmediate(r));
    expect(warnings).toEqual([]);
  });

  it('cancels every call out with it at its abort, and a call made after fails at once', async () => {
    const { client, held } = await holding();
    const ac = new AbortController();
    const calls = Array.from({ length: 50 }, () => outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal })));
    await waitFor(() => held() === 50);
    ac.abort();
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 50 }, () => 'cancelled'));
    expect(await outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal }))).toBe('cancelled');
    expect(abortListeners(ac.signal)).toBe(0);
  });

  it('with calls on more signals at once than are listened to through one listener, each abort cancels its own calls only', async () => {
    const { client, held, release } = await holding();
    // Seven signals taking turns, 20 calls each: more than the few a list is kept for at once.
    const controllers = Array.from({ length: 7 }, () => new AbortController());
    const calls = Array.from({ length: 140 }, (_, i) => outcome(client.call('hold', new Uint8Array(1), { signal: controllers[i % 7]!.signal })));
    await waitFor(() => held() === 140);
    for (const ac of controllers) expect(abortListeners(ac.signal)).toBeGreaterThan(0);
    controllers[2]!.abort();
    controllers[5]!.abort();
    release();
    const got = await Promise.all(calls);
    expect(got).toEqual(Array.from({ length: 140 }, (_, i) => (i % 7 === 2 || i % 7 === 5 ? 'cancelled' : 'answered')));
    for (const ac of controllers) expect(abortListeners(ac.signal)).toBe(0);
  });

  it('after its calls settled and new ones came, still cancels the new ones', async () => {
    const { client, held, release } = await holding();
    const ac = new AbortController();
    const first = Array.from({ length: 20 }, () => outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal })));
    await waitFor(() => held() === 20);
    release();
    expect(new Set(await Promise.all(first))).toEqual(new Set(['answered']));
    expect(abortListeners(ac.signal)).toBe(0);
    const second = Array.from({ length: 20 }, () => outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal })));
    await waitFor(() => held() === 20);
    expect(abortListeners(ac.signal)).toBe(1);
    ac.abort();
    expect(new Set(await Promise.all(second))).toEqual(new Set(['cancelled']));
  });

  it('an abort event dispatched by hand on a signal that has not aborted tells the calls out, and its real abort still reaches later ones', async () => {
    const { client, held, release } = await holding();
    const ac = new AbortController();
    const first = Array.from({ length: 20 }, () => outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal })));
    await waitFor(() => held() === 20);
    ac.signal.dispatchEvent(new Event('abort'));
    expect(new Set(await Promise.all(first))).toEqual(new Set(['cancelled']));
    const later = Array.from({ length: 20 }, () => outcome(client.call('hold', new Uint8Array(1), { signal: ac.signal })));
    await waitFor(() => held() === 40);
    ac.abort();
    release();
    expect(new Set(await Promise.all(later))).toEqual(new Set(['cancelled']));
  });
});
