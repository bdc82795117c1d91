/**
 * stream slow reader: a back's feed writes 64 KiB items for ever to a client that stops reading,
 * over one hop or two (a front relays). Credit must hold every writer back: a back writes at
 * most what the client read plus the windows between them (the client's, and over two hops the
 * front's), and no server's memory grows past those windows. Frozen: the client is a child that
 * claims a 64 MiB window and is then stopped (SIGSTOP), so nothing reads its socket: the back's
 * memory must stay bounded by its send buffer, not by the window claimed.
 */
import { fileURLToPath } from 'node:url';
import { reap, sleep, startProcess, type Proc } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, type Check, type ScenarioReport } from './checks.js';
import { holdsWithin } from './guard.js';
import { MiB, mib as mb } from './memory.js';
import type { ServerStats } from './server-params.js';
import { startServer, statsAt, stopServer, type ServerProcess } from './servers.js';
import { STREAM_PROGRESS, type StreamClientParams } from './stream-client-params.js';
import { StreamDrive } from './stream-drive.js';
import { encodeOrder, type StreamOrder } from './stream-order.js';

export interface SlowReaderOptions {
  hops: 1 | 2;
  /** The client is a child that claims a 64 MiB window, then is stopped. */
  frozen: boolean;
}

const transport = tcpTransport(nodeRuntime);
const CLIENT_SCRIPT = fileURLToPath(new URL('../dist/stream-client.js', import.meta.url));
const ITEM = 64 * 1024;
/** The default stream window (ClientStream's `streamWindowBytes`), which every hop reads with here. */
const WINDOW = MiB;
const CLAIMED = 64 * MiB;
const READ = 8;
const ORDER: StreamOrder = { id: 0, kind: 'feed', items: 0, size: ITEM, paceMs: 0, idempotent: false };
/** Guards against hangs, not measures. */
const GUARD_MS = 15_000;
/** The back counts as stopped once what it wrote stays the same this long. */
const STILL_MS = 500;

export async function runSlowReader(o: SlowReaderOptions): Promise<ScenarioReport> {
  const servers: ServerProcess[] = [];
  const pools: FailoverPool[] = [];
  let child: Proc | undefined;
  try {
    const back = await startServer({ name: 'back', role: 'back', server: { closeWaitMs: 2000 } });
    servers.push(back);
    const entry = o.hops === 1 ? back : await startServer({ name: 'front', role: 'front', backs: [back.address], server: { closeWaitMs: 2000 } });
    if (entry !== back) servers.push(entry);
    const stats = async (): Promise<ServerStats[]> => Promise.all(servers.map((s) => statsAt(s.address)));
    const held = async (): Promise<ServerStats[]> => Promise.all(servers.map((s) => statsAt(s.address, { afterGc: true })));
    const before = await held();
    let stop: () => Promise<number>;
    if (o.frozen) {
      child = frozenClient(entry.address);
      const c = child;
      await holdsWithin(() => c.lines.some((l) => Number(l.match(STREAM_PROGRESS)?.[1] ?? -1) >= READ), GUARD_MS);
      child.kill('SIGSTOP');
      stop = async () => READ;
    } else {
      const pool = new FailoverPool({ transport, servers: [entry.address] });
      pools.push(pool);
      const drive = new StreamDrive(pool.openStream('feed', encodeOrder(ORDER)), 'feed', 0, 0, READ);
      await holdsWithin(() => drive.received.length >= READ, GUARD_MS);
      stop = async () => {
        drive.stream.cancel();
        await drive.done;
        return drive.received.length;
      };
    }
    const stilled = await writesStop(stats);
    const holding = await held();
    const read = (await stop()) * ITEM;
    if (child) child.kill('SIGKILL');
    const released = await settle(stats);
    return report(o, before, holding, read, stilled, released);
  } finally {
    await reap(child);
    for (const p of pools) await p.close();
    for (const s of servers) await stopServer(s);
  }
}

/** A child that opens the feed with a 64 MiB window and reads all it can: to be stopped. */
function frozenClient(address: string): Proc {
  const params: StreamClientParams = { servers: [address], pool: { pool: { stream: { streamWindowBytes: CLAIMED } } }, order: ORDER, items: 0 };
  return startProcess(process.execPath, [CLIENT_SCRIPT, JSON.stringify(params)]);
}

/** Waits (a guard) until the back's writes stay still STILL_MS: held back by credit or the socket. */
async function writesStop(stats: () => Promise<ServerStats[]>): Promise<boolean> {
  const until = performance.now() + GUARD_MS;
  let last = -1;
  let since = performance.now();
  while (performance.now() < until) {
    const written = (await stats())[0]!.bytesWritten;
    if (written !== last) [last, since] = [written, performance.now()];
    else if (performance.now() - since >= STILL_MS) return true;
    await sleep(50);
  }
  return false;
}

/** Waits (a guard) until no server holds a stream handler or a relayed stream. */
async function settle(stats: () => Promise<ServerStats[]>): Promise<boolean> {
  const until = performance.now() + GUARD_MS;
  while (performance.now() < until) {
    if ((await stats()).every((s) => s.openStreams === 0 && s.poolInFlight === 0)) return true;
    await sleep(100);
  }
  return false;
}

function report(o: SlowReaderOptions, before: ServerStats[], held: ServerStats[], read: number, stilled: boolean, released: boolean): ScenarioReport {
  const written = held[0]!.bytesWritten;
  // Each hop's window holds at most that much, and the writer may be one item past its credit per hop.
  const windows = o.hops * WINDOW + o.hops * ITEM;
  const growth = held.map((s, i) => ({ name: s.name, buffers: s.arrayBuffers - before[i]!.arrayBuffers, heap: s.heapUsed - before[i]!.heapUsed, rss: s.rss - before[i]!.rss }));
  // A server holds what it may send (the window ahead of it) and what it read and did not pass on (the window behind it), and slack for the runtime.
  const bound = 2 * WINDOW + 4 * MiB;
  const checks: Check[] = [
    check('the back stopped writing (held back)', stilled, stilled ? 'yes' : `still writing after ${GUARD_MS} ms`),
    ...(o.frozen
      ? [check(`the back wrote less than the window the client claimed (${mb(CLAIMED)})`, written < CLAIMED, mb(written))]
      : [check('the back wrote at most what the client read plus the windows between them', written <= read + windows, `${mb(written)} written, ${mb(read)} read, windows ${mb(windows)}`)]),
    ...growth.map((g) => check(`${g.name}: ArrayBuffers and heap grew by less than ${mb(bound)}`, g.buffers + g.heap < bound, `${mb(g.buffers)} + ${mb(g.heap)} (rss ${mb(g.rss)})`)),
    check('every stream handler and relayed stream ended once the client went', released, released ? 'yes' : `not within ${GUARD_MS} ms`),
  ];
  return {
    scenario: `stream slow reader, ${o.hops} hop${o.hops === 2 ? 's' : ''}${o.frozen ? ', client frozen with a 64 MiB window claimed' : ''}`,
    figures: [
      ['client', o.frozen ? `claimed ${mb(CLAIMED)}, read ${READ}+ items then SIGSTOP` : `window ${mb(WINDOW)}, read ${mb(read)} then stopped reading`],
      ['back wrote', mb(written)],
      ...growth.map((g) => [`${g.name} grew`, `ArrayBuffers ${mb(g.buffers)}, heap ${mb(g.heap)}, rss ${mb(g.rss)}`] as const),
    ],
    checks,
  };
}
