/**
 * streams: one stream (server stream, client stream or bidi) through a FailoverPool, over one hop
 * (client → two backs) or two (client → two fronts, whose handlers open the same stream on one of
 * two backs through their own FailoverPool and relay items both ways), and a fault mid-stream:
 * the server running it killed (kill -9) or frozen (SIGSTOP, found by keepalive), a back or a
 * front; the client's cancel (AbortSignal); its deadline. Every server logs each stream it runs
 * before its first item, so runs are counted on the killed ones too.
 *
 * Checked: the stream ends, with a typed error of the fault's code whose `retry` is 'safe' only
 * when no handler ran; the items read are in order, none twice or skipped, and a stream cut
 * short fails instead of answering; no handler runs twice on any hop; a cancel or deadline fires
 * the handler's signal on every hop; once it is over no server left holds a stream handler, a
 * request, a relayed stream or a timer more than before, nor does the client's pool.
 */
import { RpcError } from '@skein/core';
import { sleep } from '@skein/test-utils';
import { handleCounts, leakedHandles } from '@skein/test-utils/resources';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Executions, type ServerLog } from './executions.js';
import { describeError } from './flood.js';
import { holdsWithin } from './guard.js';
import type { ServerParams, ServerStats } from './server-params.js';
import { scratchDir, startServer, statsAt, stopServer, type ServerProcess } from './servers.js';
import { StreamDrive } from './stream-drive.js';
import { encodeOrder, type StreamKind } from './stream-order.js';

export type StreamFault = 'kill-back' | 'kill-front' | 'stop-back' | 'stop-front' | 'cancel' | 'deadline';

/** One stream and the fault it meets. */
export interface StreamCase {
  readonly kind: StreamKind;
  readonly fault: StreamFault;
  readonly idempotent?: boolean;
}

export interface StreamFaultsOptions {
  hops: 1 | 2;
  /** Run one after the other on the same servers, stream `i` with id `i`: kills last, as a killed server serves no more. */
  cases: readonly StreamCase[];
}

const transport = tcpTransport(nodeRuntime);
/** Keepalive at every hop: a frozen server is found within about a second. */
const KEEPALIVE = { keepaliveMs: 200, keepaliveTimeoutMs: 600, tickMs: 50 };
const KEEPALIVE_BOUND_MS = KEEPALIVE.keepaliveMs + KEEPALIVE.keepaliveTimeoutMs + 2 * KEEPALIVE.tickMs;
/**
 * Far longer than keepalive (a frozen server must be found by keepalive, not by the stream's
 * timeout), and than the guard on what servers hold after: a handler left running until this
 * deadline shows as held.
 */
const STREAM_TIMEOUT_MS = 30_000;
/** The deadline of the `deadline` fault: it passes mid-stream. */
const DEADLINE_MS = 1_000;
/** Items the client writes (sink, bidi), one every PACE_MS: the stream lasts longer than any fault takes. */
const ITEMS = 200;
const PACE_MS = 20;
/** Items exchanged before the fault. */
const BEFORE_FAULT = 5;
/** A guard against hangs, not a measure: how long the stream, and then the servers, may take to settle. */
const GUARD_MS = 15_000;
/** How long a frozen server stays stopped after its stream ended. */
const FROZEN_MS = 300;

/** The code each fault must end the stream with. */
const EXPECTED: Record<StreamFault, string> = { 'kill-back': 'IO', 'kill-front': 'IO', 'stop-back': 'IO', 'stop-front': 'IO', cancel: 'Cancelled', deadline: 'Timeout' };

interface Topology {
  readonly backs: ServerProcess[];
  readonly fronts: ServerProcess[];
  /** Where the client's pool sends: the fronts, or the backs over one hop. */
  readonly entry: ServerProcess[];
}

/** The cases, one stream each, through one FailoverPool to one set of servers; checks per case. */
export async function runStreamFaults(o: StreamFaultsOptions): Promise<ScenarioReport> {
  const logs = scratchDir();
  const servers: ServerProcess[] = [];
  const killed = new Set<ServerProcess>();
  try {
    const top = await startTopology(o, logs, servers);
    const baseline = await statsOf(servers);
    const handles = handleCounts();
    const pool = new FailoverPool({ transport, servers: top.entry.map((s) => s.address), pool: { stream: { ...KEEPALIVE, timeoutMs: STREAM_TIMEOUT_MS } } });
    const checks: Check[] = [];
    const figures: [string, string][] = [];
    try {
      const run: Run = { top, pool, logs, servers, killed, baseline };
      for (const [id, c] of o.cases.entries()) {
        const r = await runCase(run, id, c);
        checks.push(...r.checks);
        figures.push(...r.figures);
      }
      await pool.close();
      // A turn for sockets closed a moment ago to go.
      await new Promise((resolve) => setImmediate(resolve));
      const left = leakedHandles(handles);
      checks.push(check('the client process holds no socket or timer once its pool closed', Object.keys(left).length === 0, JSON.stringify(left)));
      return { scenario: `streams under faults, ${o.hops} hop${o.hops === 2 ? 's' : ''}`, figures, checks };
    } finally {
      await pool.close();
    }
  } finally {
    for (const s of servers) s.proc.kill('SIGCONT');
    await Promise.all(servers.map((s) => stopServer(s)));
    logs.remove();
  }
}

type Scratch = ReturnType<typeof scratchDir>;

/** What every case of a run shares. */
interface Run {
  readonly top: Topology;
  readonly pool: FailoverPool;
  readonly logs: Scratch;
  readonly servers: ServerProcess[];
  /** Servers killed by the cases so far. */
  readonly killed: Set<ServerProcess>;
  /** Each server's stats before the first case. */
  readonly baseline: Map<string, ServerStats>;
}

/** Stream `id` meets its fault; its checks, against the servers before and after it. */
async function runCase(r: Run, id: number, c: StreamCase): Promise<{ checks: Check[]; figures: [string, string][] }> {
  const live = (): ServerProcess[] => r.servers.filter((s) => !r.killed.has(s));
  const before = await statsOf(live());
  const seen = await streamWithFault(id, c, r.top, r.pool, r.logs);
  if (seen.killed) r.killed.add(seen.killed);
  const logOf = (s: ServerProcess): ServerLog => ({ name: s.name, killed: r.killed.has(s), text: r.logs.read(s.name) });
  const runs = new Executions(id + 1, r.top.backs.map(logOf), r.top.fronts.map(logOf));
  const left = await settledResources(live(), r.baseline, r.pool);
  // The live servers that ran it, and which of their counts did not move meanwhile.
  const ranHere = left.servers.filter((s) => ranOn(r.logs, s.name, id));
  const unchanged = (key: 'signalled' | 'timedOut' | 'withDeadline' | 'answered'): string[] => ranHere.filter((s) => s.now?.[key] === before.get(s.name)?.[key]).map((s) => s.name);
  const answered = ranHere.map((s) => s.name).filter((n) => !unchanged('answered').includes(n));
  // At a deadline every hop's timer runs out at about the same moment: a relay told by its
  // downstream first (a Timeout) ends before its own signal would fire, and learned all the same.
  const unsignalled = unchanged('signalled').filter((n) => c.fault !== 'deadline' || unchanged('timedOut').includes(n));
  return report(id, c, seen, runs, left, { unsignalled, noDeadline: unchanged('withDeadline'), answered });
}

/** Server `name` logged stream `id`: its handler ran. */
const ranOn = (logs: Scratch, name: string, id: number): boolean => logs.read(name).split('\n').includes(String(id));

/** Backs, and over two hops fronts relaying to them, all started at once: one more than the cases that kill one, two at least. */
async function startTopology(o: StreamFaultsOptions, logs: Scratch, servers: ServerProcess[]): Promise<Topology> {
  const start = async (name: string, p: Omit<ServerParams, 'name' | 'executions'>): Promise<ServerProcess> => {
    const s = await startServer({ ...p, name, executions: logs.file(name), server: { closeWaitMs: 2000 } });
    servers.push(s);
    return s;
  };
  const count = (fault: StreamFault): number => Math.max(2, 1 + o.cases.filter((c) => c.fault === fault).length);
  const backs = await Promise.all(Array.from({ length: count('kill-back') }, (_, i) => start(`back${i}`, { role: 'back' })));
  if (o.hops === 1) return { backs, fronts: [], entry: backs };
  // Every back tried before a relay gives up: backs killed by earlier cases are not known dead to a front that never used them.
  const pool = { retries: backs.length, pool: { stream: { ...KEEPALIVE, timeoutMs: STREAM_TIMEOUT_MS } } };
  const addresses = backs.map((b) => b.address);
  const fronts = await Promise.all(Array.from({ length: count('kill-front') }, (_, i) => start(`front${i}`, { role: 'front', backs: addresses, pool })));
  return { backs, fronts, entry: fronts };
}

/** What the client saw of its stream, and what was done to it. */
interface Seen {
  readonly drive: StreamDrive;
  /** The server killed or frozen. */
  readonly killed: ServerProcess | undefined;
  readonly frozen: ServerProcess | undefined;
  /** The fault came: enough of the stream went by first. */
  readonly faulted: boolean;
  /** Items exchanged when it came. */
  readonly progressAtFault: number;
  /** Ms from the fault to the stream's end. */
  readonly endedAfterMs: number | undefined;
  /** What the fault's bound is: keepalive's for a freeze, the deadline's, else none. */
  readonly boundMs: number | undefined;
}

async function streamWithFault(id: number, o: StreamCase, top: Topology, pool: FailoverPool, logs: Scratch): Promise<Seen> {
  const cancel = new AbortController();
  const timeoutMs = o.fault === 'deadline' ? DEADLINE_MS : STREAM_TIMEOUT_MS;
  // A feed for ever: a handler cut off must be ended by the fault's news (a cancel, a deadline, a
  // lost connection), never by running out of items.
  const order = { id, kind: o.kind, items: 0, size: 0, paceMs: PACE_MS, idempotent: o.idempotent ?? false };
  const stream = pool.openStream(o.kind, encodeOrder(order), { idempotent: order.idempotent, timeoutMs, signal: cancel.signal });
  const drive = new StreamDrive(stream, o.kind, ITEMS, PACE_MS);
  const ran = (s: ServerProcess): boolean => ranOn(logs, s.name, id);
  const tier = o.fault.endsWith('front') ? top.fronts : top.backs;
  const faulted = await holdsWithin(() => drive.progress >= BEFORE_FAULT && tier.some(ran), GUARD_MS);
  const target = tier.find(ran);
  let killed: ServerProcess | undefined;
  let frozen: ServerProcess | undefined;
  const at = performance.now();
  const progressAtFault = drive.progress;
  if (faulted && target) {
    if (o.fault.startsWith('kill')) (killed = target).proc.kill('SIGKILL');
    if (o.fault.startsWith('stop')) (frozen = target).proc.kill('SIGSTOP');
    if (o.fault === 'cancel') cancel.abort();
  }
  await holdsWithin(() => drive.settled, GUARD_MS);
  const endedAfterMs = drive.settledAt === undefined ? undefined : drive.settledAt - at;
  if (frozen) {
    await sleep(FROZEN_MS);
    frozen.proc.kill('SIGCONT');
  }
  if (!drive.settled) cancel.abort();
  await drive.done;
  const boundMs = o.fault.startsWith('stop') ? KEEPALIVE_BOUND_MS : o.fault === 'deadline' ? DEADLINE_MS - BEFORE_FAULT * PACE_MS : undefined;
  return { drive, killed, frozen, faulted, progressAtFault, endedAfterMs, boundMs };
}

/** What each server still held once the stream was over, against its baseline; the client pool's too. */
interface Left {
  /** Per live server: its stats once settled (or the last seen), and at the start. */
  readonly servers: { name: string; now: ServerStats | undefined; before: ServerStats }[];
  readonly poolInFlight: number;
  readonly settled: boolean;
}

const idle = (s: ServerStats, before: ServerStats): boolean =>
  // The stats call itself is in flight.
  s.openStreams === 0 && s.inFlight <= 1 && s.poolInFlight === 0 && (s.name.startsWith('front') || s.timers <= before.timers);

/** Waits (a guard) until every server left is idle, then reads them once more. */
async function settledResources(live: ServerProcess[], baseline: Map<string, ServerStats>, pool: FailoverPool): Promise<Left> {
  let now = new Map<string, ServerStats>();
  const poolIdle = (): boolean => pool.stats().every((s) => s.inFlight === 0 && s.queued === 0);
  const deadline = performance.now() + GUARD_MS;
  let ok = false;
  while (performance.now() < deadline) {
    now = await statsOf(live);
    ok = live.every((s) => idle(now.get(s.name)!, baseline.get(s.name)!)) && poolIdle();
    if (ok) break;
    await sleep(100);
  }
  return {
    servers: live.map((s) => ({ name: s.name, now: now.get(s.name), before: baseline.get(s.name)! })),
    poolInFlight: pool.stats().reduce((n, s) => n + s.inFlight + s.queued, 0),
    settled: ok,
  };
}

/** Each server's stats, by name. */
async function statsOf(servers: ServerProcess[]): Promise<Map<string, ServerStats>> {
  return new Map(await Promise.all(servers.map(async (s) => [s.name, await statsAt(s.address)] as const)));
}

/** The live hops that ran the stream whose handler's signal did not fire, or that got no deadline. */
interface Hops {
  readonly unsignalled: string[];
  readonly noDeadline: string[];
  /** Hops whose handler answered (returned) although the stream was cut short. */
  readonly answered: string[];
}

function report(id: number, o: StreamCase, seen: Seen, runs: Executions, left: Left, hops: Hops): { checks: Check[]; figures: [string, string][] } {
  const { drive } = seen;
  const err = drive.error;
  const code = err instanceof RpcError ? describeError(err).split('/')[0]! : 'none';
  const ran = runs.ran(id);
  const cutShort = drive.reply !== undefined && (o.kind === 'feed' || drive.written < ITEMS);
  const held = left.servers.filter((s) => !s.now || !idle(s.now, s.before)).map((s) => `${s.name} ${JSON.stringify(s.now && { openStreams: s.now.openStreams, inFlight: s.now.inFlight - 1, poolInFlight: s.now.poolInFlight, timers: `${s.before.timers}→${s.now.timers}` })}`);
  const checks: Check[] = [
    check('the fault came mid-stream', seen.faulted, seen.faulted ? `after ${seen.progressAtFault} items` : 'never'),
    check('the stream ended', drive.settled, drive.settled ? 'yes' : `not within ${GUARD_MS} ms`),
    check(`it ended with ${EXPECTED[o.fault]}`, code === EXPECTED[o.fault], err === undefined ? 'answered ok' : describeError(err)),
    check('it failed as "never ran" only if no handler ran', !(ran && err instanceof RpcError && err.retry === 'safe'), `ran: ${ran}, retry: ${err instanceof RpcError ? err.retry : '-'}`),
    check('items read in order, none twice, none skipped', drive.inOrder, drive.received.join(',')),
    check('a stream cut short does not answer ok', !cutShort, cutShort ? `answered after ${drive.progress} of ${ITEMS}` : 'no'),
    check('no handler ran twice on any hop', runs.back[id]! <= 1 && runs.front[id]! <= 1, `back ${runs.back[id]}, front ${runs.front[id]}`),
    ...(o.fault === 'cancel' || o.fault === 'deadline' || o.fault === 'kill-front' || o.fault === 'stop-front' ? [none('hops that ran it whose handler signal never fired', hops.unsignalled.length, hops.unsignalled.join(', '))] : []),
    none('hops that ran it without a deadline', hops.noDeadline.length, hops.noDeadline.join(', ')),
    none('hops whose handler answered a stream cut short as if it ended', hops.answered.length, hops.answered.join(', ')),
    check('nothing left held on the servers or in the client pool', left.settled, held.length ? held.join('; ') : `client pool ${left.poolInFlight}`),
  ];
  if (seen.boundMs !== undefined) {
    const ok = seen.endedAfterMs !== undefined && seen.endedAfterMs <= seen.boundMs + 500;
    checks.push(check(`ended within ${seen.boundMs} ms of the fault (+500 ms)`, ok, `${Math.round(seen.endedAfterMs ?? -1)} ms`, true));
  }
  const label = `#${id} ${o.kind} ${o.fault}${o.idempotent ? ' (idempotent)' : ''}`;
  return {
    figures: [
      [label, `${drive.received.length} read, ${drive.written} written; ended ${err === undefined ? 'ok' : `${describeError(err)}: ${(err as Error).message}`} ${Math.round(seen.endedAfterMs ?? -1)} ms after the fault; runs: back ${runs.back[id]}, front ${runs.front[id]}`],
    ],
    checks: checks.map((c) => ({ ...c, what: `${label}: ${c.what}` })),
  };
}
