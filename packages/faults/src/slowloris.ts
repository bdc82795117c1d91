/**
 * slowloris: many connections that dribble bytes, a few per tick, to hold the server's sockets:
 * half send a request header a byte at a time, half send pings piece by piece (a whole ping now
 * and then, but never a call). The server must close every one of them within its read timeout
 * (`readTimeoutMs` closes a frame left unfinished, `idleTimeoutMs` a connection that completes
 * no call, pings not counting), while a
 * control client on another connection calls on, unaffected.
 */
import { rawConnect, type RawSocket } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, protocol } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Flood, errorSummary } from './flood.js';
import { requestFrame } from './frames.js';
import { holdsWithin } from './guard.js';
import { ACTION } from './server-params.js';
import { fetchStats, startServer, stopServer } from './servers.js';

export interface SlowlorisOptions {
  dribblers: number;
  /** The server's read timeout. */
  readTimeoutMs: number;
  /** A guard: how long to wait for the server to close them all. Default 10 read timeouts + 10 s. */
  guardMs?: number;
}

const transport = tcpTransport(nodeRuntime);

/** A dribbling connection: what it sends, how much per tick, and when the server closed it. */
interface Dribbler {
  readonly kind: 'header' | 'ping';
  readonly socket: RawSocket;
  readonly bytes: Uint8Array;
  readonly perTick: number;
  sent: number;
  openedAt: number;
  closedAfterMs?: number;
}

/**
 * Ticks per read timeout. Pings come whole every 4 ticks, twice per timeout: a server that took
 * a ping for a sign of life would keep them forever. Headers come a byte a tick: one takes 4
 * timeouts, so only a server that watches for whole calls closes them in time.
 */
const TICKS_PER_TIMEOUT = 8;

export async function runSlowloris(o: SlowlorisOptions): Promise<ScenarioReport> {
  const tickMs = o.readTimeoutMs / TICKS_PER_TIMEOUT;
  const server = await startServer({
    name: 'dribbled',
    role: 'back',
    server: { idleTimeoutMs: o.readTimeoutMs, readTimeoutMs: o.readTimeoutMs, tickMs: Math.max(1, Math.round(tickMs)), maxConnections: o.dribblers + 16 },
  });
  const control = await ClientStream.connect({ transport, address: server.address });
  const flood = new Flood(() => control.call(ACTION.echo, new Uint8Array(16)), 2);
  const dribblers: Dribbler[] = [];
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    for (let i = 0; i < o.dribblers; i++) dribblers.push(await dribbler(server.address, i % 2 === 0 ? 'header' : 'ping'));
    ticker = setInterval(() => dribble(dribblers), tickMs);
    await holdsWithin(() => dribblers.every((d) => d.socket.peerClosed), o.guardMs ?? 10 * o.readTimeoutMs + 10_000);
    clearInterval(ticker);
    await flood.stop();
    const after = await fetchStats(control).catch(() => undefined);
    return report(o, dribblers, flood, after?.connections);
  } finally {
    clearInterval(ticker);
    await flood.stop();
    for (const d of dribblers) d.socket.destroy();
    await control.close();
    await stopServer(server);
  }
}

async function dribbler(address: string, kind: Dribbler['kind']): Promise<Dribbler> {
  const socket = await rawConnect(address);
  const d: Dribbler = {
    kind,
    socket,
    // A header that claims a body, so that a header done dribbling leaves a body to dribble.
    bytes: kind === 'header' ? withClaimedBody(requestFrame(ACTION.echoNumeric, 1)) : requestFrame(0, 1),
    perTick: kind === 'header' ? 1 : Math.ceil(requestFrame(0, 1).length / 4),
    sent: 0,
    openedAt: Date.now(),
  };
  void socket.closedByPeer.then(() => (d.closedAfterMs = Date.now() - d.openedAt));
  return d;
}

function withClaimedBody(header: Uint8Array): Uint8Array {
  new DataView(header.buffer, header.byteOffset).setUint32(protocol.REQ_MSG_LEN_AT, 1 << 20, true);
  return header;
}

/** A few more bytes on every open dribbler: the header's next byte, or the next piece of a ping. */
function dribble(dribblers: readonly Dribbler[]): void {
  for (const d of dribblers) {
    if (d.socket.peerClosed) continue;
    const piece = new Uint8Array(d.perTick);
    for (let i = 0; i < d.perTick; i++, d.sent++) piece[i] = d.sent < d.bytes.length || d.kind === 'ping' ? d.bytes[d.sent % d.bytes.length]! : 0;
    d.socket.write(piece);
  }
}

function report(o: SlowlorisOptions, dribblers: readonly Dribbler[], flood: Flood, connectionsAfter: number | undefined): ScenarioReport {
  const open = (kind: Dribbler['kind']): number => dribblers.filter((d) => d.kind === kind && !d.socket.peerClosed).length;
  const slowest = Math.max(0, ...dribblers.map((d) => d.closedAfterMs ?? Infinity));
  const bound = o.readTimeoutMs + (2 * o.readTimeoutMs) / TICKS_PER_TIMEOUT;
  const checks: Check[] = [
    none('header dribblers left open', open('header'), `of ${Math.ceil(o.dribblers / 2)}`),
    none('ping dribblers left open', open('ping'), `of ${Math.floor(o.dribblers / 2)}`),
    check('all closed within the read timeout and two server ticks', slowest <= bound + 250, `slowest ${slowest} ms (bound ${bound} ms)`, true),
    check('control client calls, none failed', flood.ok > 0 && flood.failed === 0, `${flood.ok} ok, ${flood.failed} failed (${errorSummary(flood.errors)})`),
    check('server connections after (the control client only)', connectionsAfter === 1, String(connectionsAfter)),
  ];
  return {
    scenario: 'slowloris',
    figures: [
      ['dribblers', `${o.dribblers}: half a header byte per ${(o.readTimeoutMs / TICKS_PER_TIMEOUT).toFixed(0)} ms, half a ping piece per tick (a whole ping every ${(o.readTimeoutMs / 2).toFixed(0)} ms)`],
      ['read timeout', `${o.readTimeoutMs} ms`],
      ['closed after', `${Math.min(...dribblers.map((d) => d.closedAfterMs ?? Infinity))} ms at the soonest, ${slowest} ms at the latest`],
      ['control calls meanwhile', `${flood.ok} ok, ${flood.failed} failed`],
    ],
    checks,
  };
}
