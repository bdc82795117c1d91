import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError } from '@skein/core';
import { createClient } from '@skein/api';
import { FailoverPool } from '@skein/stream';
import { cleanups, processStopped, reap, startProcess, waitFor, within, type Proc } from '@skein/test-utils';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { transport } from './harness.js';
import { Front } from './fixtures/hops.mjs';

// Skein's first guarantee through two hops, with a WorkerPool in the path: a client's
// FailoverPool over three servers A whose dispatch is a WorkerPool, each handler calling two
// servers B through a FailoverPool with `{ ctx }`; every server a process of its own, so that
// its crash and freeze are real. Mid-flood a worker dies in a call (process.exit), then an A
// server is frozen (SIGSTOP, found by the client's keepalive; resumed once the flood is over, to
// run whatever it had read). Every handler notes each run in its process's log, and the test
// holds the runs per call id, at both hops, against what the client was told: a call that is not
// idempotent runs at most once anywhere, one answered ok ran once at each hop, one failed as
// never run ("safe") ran nowhere, and every idempotent call ends ok.
//
// The same flood, one fault at a time, also held for: SIGKILL of an A server, its graceful close
// (no call failed), a worker's stall (stallTimeoutMs), SIGKILL, SIGSTOP and graceful close of a B
// server, and a link cut (TcpRelay) to an A server and to a B server; with no retries too, so
// that "safe" failures reached the client (an A server's graceful close: all of them unrun).

const cleanup = cleanups();
const SERVER = new URL('./fixtures/hops-server.mjs', import.meta.url).pathname;
const CALLS = 2400;
const IN_FLIGHT = 48;
/** Crash their worker at their first run: a call that is not idempotent (odd), and one that is. */
const CRASHING = [801, 802];
/** Call after which A2 is frozen. */
const FREEZE_AT = 1600;

interface Server {
  readonly name: string;
  readonly proc: Proc;
  readonly address: string;
}

async function startServer(role: 'front' | 'back', name: string, logs: string, backs: string[] = []): Promise<Server> {
  const proc = startProcess(process.execPath, [SERVER, role], { HOPS_LOG: `${logs}/${name}`, HOPS_BACKS: backs.join(',') });
  cleanup.push(() => reap(proc));
  const [, port] = await proc.waitForLine(/^listening (\d+)$/);
  return { name, proc, address: `127.0.0.1:${port}` };
}

/** Runs per call id in one process's log. */
function runsIn(path: string): Map<number, number> {
  const runs = new Map<number, number>();
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  for (const line of text.split('\n')) if (line !== '') runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1);
  return runs;
}

/** What the client was told of each call: ok, or its failure's retry class. */
type Told = 'ok' | 'safe' | 'idempotent' | 'never';

/** The flood: even ids `read` (idempotent), odd ones `charge`; A2 frozen after call FREEZE_AT starts. */
async function flood(fronts: Server[]): Promise<Told[]> {
  const pool = new FailoverPool({
    transport,
    servers: fronts.map((f) => f.address),
    retryBudget: { ratio: 1, minRetriesPerSecond: 1000 },
    pool: { stream: { keepaliveMs: 200, keepaliveTimeoutMs: 300 } },
  });
  cleanup.push(() => within(pool.close(), 10_000, 'client pool close'));
  const front = createClient(Front, pool, { codec: msgpackCodec });
  const told: Told[] = [];
  let next = 0;
  let frozen: Promise<unknown> | undefined;
  const work = async (): Promise<void> => {
    while (next < CALLS) {
      const id = next++;
      if (id === FREEZE_AT) {
        fronts[1]!.proc.kill('SIGSTOP');
        frozen = waitFor(() => processStopped(fronts[1]!.proc.pid), { what: 'A2 stopped' });
      }
      const msg = { id, crash: CRASHING.includes(id) };
      try {
        await (id % 2 === 0 ? front.read(msg) : front.charge(msg));
        told[id] = 'ok';
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        told[id] = err.retry;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, work));
  await frozen;
  // The client ends its connections, so that each server's graceful close below is prompt.
  await within(pool.close(), 10_000, 'client pool close');
  return told;
}

/** Resumes and closes every server (the frozen one runs what it had read), then reads each hop's logs. */
async function settle(servers: Server[], logs: string): Promise<Map<number, number>[]> {
  for (const s of servers) {
    s.proc.kill('SIGCONT');
    s.proc.kill('SIGTERM');
    await within(s.proc.exited, 15_000, `${s.name} exit`);
  }
  return servers.map((s) => runsIn(`${logs}/${s.name}`));
}

const runsOf = (logs: Map<number, number>[], id: number): number => logs.reduce((n, m) => n + (m.get(id) ?? 0), 0);

describe('two hops, a WorkerPool at the first', () => {
  it('a worker crash and a frozen server mid-flood: no call that is not idempotent runs twice at either hop; each told ok ran, each told "safe" ran nowhere', { timeout: 60_000 }, async () => {
    const logs = mkdtempSync(`${tmpdir()}/skein-hops-`);
    cleanup.push(() => rmSync(logs, { recursive: true, force: true }));
    const backs = [await startServer('back', 'B1', logs), await startServer('back', 'B2', logs)];
    const fronts: Server[] = [];
    for (const name of ['A1', 'A2', 'A3']) fronts.push(await startServer('front', name, logs, backs.map((b) => b.address)));
    const told = await flood(fronts);
    const a = await settle(fronts, logs);
    const b = await settle(backs, logs);
    const wrong: string[] = [];
    for (let id = 0; id < CALLS; id++) {
      const [onA, onB, t] = [runsOf(a, id), runsOf(b, id), told[id]];
      const idempotent = id % 2 === 0;
      if (!idempotent && (onA > 1 || onB > 1)) wrong.push(`charge ${id} ran ${onA}× on A, ${onB}× on B (told ${t})`);
      if (t === 'ok' && (onA === 0 || onB === 0)) wrong.push(`${id} told ok, ran ${onA}× on A, ${onB}× on B`);
      if (t === 'safe' && onA + onB > 0) wrong.push(`${id} told "safe" (never ran), ran ${onA}× on A, ${onB}× on B`);
      if (idempotent && t !== 'ok') wrong.push(`read ${id} failed (${t})`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    // Both faults struck: the crashing calls ended a worker, and calls failed "may have run".
    for (const id of CRASHING) expect(existsSync(`${logs}/crashed-${id}`)).toBe(true);
    expect(told.filter((t) => t === 'idempotent').length).toBeGreaterThan(0);
  });
});
