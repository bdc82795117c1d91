import { msgpackCodec } from '@skein/codec-msgpack';
import { createClient } from '@skein/api';
import { memoryLogger, waitFor, cleanups } from '@skein/test-utils';
import type { Dispatch } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import { Withholds } from './fixtures/withholds.mjs';
import { outcome, serve, startPool } from './harness.js';

// Each worker's service dispatch counts the withheld failures it did not log one by one
// (WithheldLog) and says the counts at its server's close (`Dispatch.serverClosed`). A worker's
// dispatch lives in its thread: the pool's graceful close, and the close of a server it serves,
// must reach it before the thread ends, or the counts are lost with it.

const MODULE = new URL('./fixtures/withholds.mjs', import.meta.url);
const FAILURES = 5;

interface Line {
  level: string;
  msg: string;
  suppressed?: number;
}

const cleanup = cleanups();

/** The worker's dispatch's log lines, as they come over the fixture's channel. */
function workerLines(): Line[] {
  const lines: Line[] = [];
  const bc = new BroadcastChannel('skein-workers-test-withheld');
  bc.onmessage = (e: MessageEvent) => lines.push(e.data as Line);
  cleanup.push(() => bc.close());
  return lines;
}

async function pool(): Promise<WorkerPool> {
  const p = await startPool({ module: MODULE, workers: 1, logger: memoryLogger() });
  cleanup.push(() => p.destroy());
  return p;
}

/** FAILURES calls whose downstream error the worker withholds: the first is logged whole, the rest counted. */
async function fail(dispatch: Dispatch, lines: Line[]) {
  const s = await serve(dispatch);
  cleanup.push(() => s.close());
  const client = createClient(Withholds, s.stream, { codec: msgpackCodec });
  for (let i = 0; i < FAILURES; i++) expect(await outcome(client.op(i))).toMatchObject({ code: 'InvalidArgument' });
  await waitFor(() => lines.some((l) => l.msg === 'Withholds.op failed with InvalidArgument'), { what: 'the first failure logged whole' });
  return { s, client };
}

const counted = (l: Line): boolean => l.level === 'warn' && l.suppressed !== undefined;
const countLine = { level: 'warn', suppressed: FAILURES - 1, msg: `${FAILURES - 1} more failed Withholds.op calls with InvalidArgument: not logged one by one` };

describe("a worker's withheld failures counted and not yet logged", () => {
  it("are said at the pool's close, before its workers end", async () => {
    const lines = workerLines();
    const p = await pool();
    // The server does not tell the pool of its close: only the pool's own close says the counts.
    const { s } = await fail({ dispatch: (req) => p.dispatch(req) }, lines);
    expect(lines.filter(counted)).toEqual([]);
    await s.close();
    await p.close();
    await waitFor(() => lines.some(counted), { what: "the count line of the worker's dispatch" });
    expect(lines.filter(counted)).toEqual([countLine]);
  });

  it('are said at the close of a server the pool serves; the pool serves on', async () => {
    const lines = workerLines();
    const p = await pool();
    const { s } = await fail(p, lines);
    await s.close();
    await waitFor(() => lines.some(counted), { what: "the count line of the worker's dispatch" });
    expect(lines.filter(counted)).toEqual([countLine]);
    expect(p.state).toBe('running');
    // Counted afresh: the next failure is logged whole again, and another server is served.
    const before = lines.length;
    await fail(p, lines);
    expect(lines.slice(before)).toContainEqual(expect.objectContaining({ msg: 'Withholds.op failed with InvalidArgument' }));
    expect(p.stats()).toMatchObject({ state: 'running', workers: 1, crashes: 0 });
  });

  it("a worker that cannot answer does not hold the pool's close: it is ended as before", async () => {
    const p = await pool();
    const s = await serve({ dispatch: (req) => p.dispatch(req) });
    cleanup.push(() => s.close());
    const client = createClient(Withholds, s.stream, { codec: msgpackCodec });
    expect(await client.block()).toBe('blocking');
    await s.close();
    await p.close();
    expect(p.stats()).toMatchObject({ state: 'closed', workers: 0, crashes: 0 });
  });
});
