import { ClientStream } from '@skein/stream';
import { expect, it } from 'vitest';
import { startPool, serve, transport } from './harness.js';
import { cleanups } from '@skein/test-utils';

/*
 * A plain call's signal in a worker is its connection's (WorkerConn), as in process, so every
 * handler of that connection listening to it (api's ctx.signal, a call made with `{ ctx }`) adds
 * a listener to one signal: past 10 at once, Node printed "MaxListenersExceededWarning: Possible
 * EventTarget memory leak detected" in the worker, under ordinary load (found by the peer-mesh
 * example; the stream's own connection signals were fixed first).
 */

const cleanup = cleanups<() => Promise<unknown>>();

const text = new TextDecoder();

it('many calls of one connection listening to its signal at once in a worker raise no "memory leak" warning', async () => {
  const pool = await startPool({ module: new URL('./fixtures/listens.mjs', import.meta.url), workers: 1 });
  cleanup.push(() => pool.close());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  const calls = Array.from({ length: 32 }, () => s.stream.call(1));
  // All 32 are listening before the gate opens (one worker holds them all).
  for (let held = 0; held < 32; held = Number(text.decode((await s.stream.call(3)).msg))) await new Promise((r) => setTimeout(r, 5));
  const gate = new BroadcastChannel('skein-workers-test-listens');
  gate.postMessage('open');
  gate.close();
  expect((await Promise.all(calls)).map((r) => r.msg.length)).toEqual(Array(32).fill(1));
  expect(JSON.parse(text.decode((await s.stream.call(2)).msg))).toEqual([]);
});

it("plain calls in a worker hooking their abort (as api's ctx does) add no listener to the connection's signal, and are told when it closes", async () => {
  const pool = await startPool({ module: new URL('./fixtures/listens.mjs', import.meta.url), workers: 1 });
  cleanup.push(() => pool.close());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  for (let i = 0; i < 40; i++) void s.stream.call(4).catch(() => {});
  // Answered in order by the one worker: the 40 have hooked their abort by the time 5 is answered.
  expect(Number(text.decode((await s.stream.call(5)).msg))).toBe(0);
  s.stream.destroy();
  const other = await ClientStream.connect({ transport, address: `127.0.0.1:${s.port}` });
  cleanup.push(async () => other.destroy());
  await expect.poll(async () => Number(text.decode((await other.call(6)).msg))).toBe(40);
});
