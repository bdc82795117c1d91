/**
 * stream partition: one stream (feed, sink or bidi) from a client child through a front to a
 * back, each on a NetLab host of its own, and a link taken down mid-stream (the back's, or the
 * front's): packets are dropped silently, so only keepalive finds out. The stream has no
 * deadline, so nothing but keepalive and the connection's end may finish it. Then the link comes
 * back: the handlers cut off (blocked on credit, or waiting for items) must end too, once the
 * closes sent meanwhile get through.
 *
 * Checked: the client's stream ends with IO, not 'safe' (the handler ran); its items in order;
 * no hop ran the handler twice; once healed, no server holds a stream handler, a request or a
 * relayed stream.
 */
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, reap, startNetLab, type NetHost, type Proc } from '@skein/test-utils';
import { check, type Check, type ScenarioReport } from './checks.js';
import { holdsWithin } from './guard.js';
import { STATS, type ServerParams, type ServerStats } from './server-params.js';
import { scratchDir, startServer, stopServer, type ServerProcess } from './servers.js';
import { STREAM_ENDED, STREAM_PROGRESS, type StreamClientParams, type StreamClientResult } from './stream-client-params.js';
import type { StreamKind, StreamOrder } from './stream-order.js';

export interface StreamPartitionOptions {
  kind: StreamKind;
  /** Whose link goes down mid-stream. */
  cut: 'back' | 'front';
}

const CLIENT_SCRIPT = fileURLToPath(new URL('../dist/stream-client.js', import.meta.url));
const PORT = 7000;
const STREAM = { keepaliveMs: 200, keepaliveTimeoutMs: 600, connectTimeoutMs: 1000, tickMs: 50 };
const ITEMS = 400;
const PACE_MS = 20;
const BEFORE_FAULT = 5;
/** How long the link stays down after the client's stream ended. */
const DOWN_MS = 500;
/** Guards against hangs, not measures. */
const GUARD_MS = 20_000;

export async function runStreamPartition(o: StreamPartitionOptions): Promise<ScenarioReport> {
  const unavailable = netnsUnavailable();
  if (unavailable !== undefined) return { scenario: 'stream partition', figures: [['skipped', unavailable]], checks: [] };
  const lab = startNetLab(['client', 'front', 'back']);
  const logs = scratchDir();
  const servers: ServerProcess[] = [];
  let client: Proc | undefined;
  const cut = lab.hosts[o.cut]!;
  let down = false;
  try {
    const serve = async (name: string, p: Omit<ServerParams, 'name' | 'listen' | 'executions'>): Promise<ServerProcess> => {
      const host: NetHost = lab.hosts[name]!;
      const s = await startServer({ ...p, name, listen: `${host.address}:${PORT}`, executions: logs.file(name), statsEveryMs: 100, server: { closeWaitMs: 2000 } }, host);
      servers.push(s);
      return s;
    };
    const back = await serve('back', { role: 'back' });
    const front = await serve('front', { role: 'front', backs: [back.address], pool: { pool: { stream: STREAM } } });
    // A feed for ever: a back cut off must be ended by the connection's end, not by running out of items.
    const order: StreamOrder = { id: 0, kind: o.kind, items: 0, size: 0, paceMs: PACE_MS, idempotent: false };
    const params: StreamClientParams = { servers: [front.address], pool: { pool: { stream: STREAM } }, order, items: ITEMS };
    const c = (client = lab.hosts.client!.start(process.execPath, [CLIENT_SCRIPT, JSON.stringify(params)]));
    const progress = (): number => Math.max(-1, ...c.lines.map((l) => Number(l.match(STREAM_PROGRESS)?.[1] ?? -1)));
    const faulted = await holdsWithin(() => progress() >= BEFORE_FAULT && logs.read('back') !== '', GUARD_MS);
    cut.linkDown();
    down = true;
    const at = progress();
    const ended = await client.waitForLine(STREAM_ENDED, GUARD_MS).then(
      (m) => JSON.parse(m[1]!) as StreamClientResult,
      () => undefined,
    );
    await holdsWithin(() => false, DOWN_MS);
    cut.linkUp();
    down = false;
    const idle = (s: ServerProcess): boolean => {
      const last = lastStats(s);
      return last !== undefined && last.openStreams === 0 && last.inFlight === 0 && last.poolInFlight === 0;
    };
    const released = await holdsWithin(() => servers.every(idle), GUARD_MS);
    const runs = { back: lines(logs.read('back')), front: lines(logs.read('front')) };
    return report(o, { faulted, at, ended, released, runs, after: servers.map((s) => lastStats(s)) });
  } finally {
    if (down) cut.linkUp();
    await reap(client);
    for (const s of servers) await stopServer(s);
    lab.close();
    logs.remove();
  }
}

const lines = (text: string): number => text.split('\n').filter((l) => l !== '').length;

/** The last stats line a server printed. */
function lastStats(s: ServerProcess): ServerStats | undefined {
  for (let i = s.proc.lines.length - 1; i >= 0; i--) {
    const m = s.proc.lines[i]!.match(STATS);
    if (m) return JSON.parse(m[1]!) as ServerStats;
  }
  return undefined;
}

interface Seen {
  readonly faulted: boolean;
  /** Progress when the link went down. */
  readonly at: number;
  readonly ended: StreamClientResult | undefined;
  readonly released: boolean;
  readonly runs: { back: number; front: number };
  readonly after: (ServerStats | undefined)[];
}

function report(o: StreamPartitionOptions, s: Seen): ScenarioReport {
  const e = s.ended;
  const checks: Check[] = [
    check('the link went down mid-stream', s.faulted, `after ${s.at} items`),
    check("the client's stream ended while the link was down", e !== undefined, e ? 'yes' : `not within ${GUARD_MS} ms`),
    check('it ended with IO', e?.code === 'IO', e ? `${e.code ?? 'answered ok'}/${e.retry ?? '-'}: ${e.message ?? ''}` : '-'),
    check('not as "never ran" (the handler ran)', e?.retry !== 'safe', e?.retry ?? '-'),
    check('items read in order, none twice, none skipped', e?.inOrder === true, e ? `${e.received} read` : '-'),
    check('no handler ran twice on any hop', s.runs.back <= 1 && s.runs.front <= 1, `back ${s.runs.back}, front ${s.runs.front}`),
    check('once healed, no server holds a stream handler, a request or a relayed stream', s.released, s.after.map((a) => a && `${a.name}: ${a.openStreams} streams, ${a.inFlight} in flight, ${a.poolInFlight} relayed`).join('; ')),
  ];
  return {
    scenario: `stream partition: ${o.kind}, ${o.cut} link down mid-stream (two hops, NetLab)`,
    figures: [
      ['client saw', JSON.stringify(e)],
      ['servers after', s.after.map((a) => JSON.stringify(a)).join('; ')],
    ],
    checks,
  };
}
