/**
 * frozen peer: a flood through a FailoverPool over three servers, and one of them stopped with
 * SIGSTOP: its sockets stay open and the kernel still accepts connections for it, but it
 * answers nothing. Keepalive must find it (calls on it fail as a lost connection, not by their
 * own timeout, set far longer), and from then on no call may go to it until it answers a ping
 * again, after SIGCONT.
 */
import { sleep } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, type PoolState } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Flood, describeError, errorSummary } from './flood.js';
import { holdsWithin } from './guard.js';
import { ACTION } from './server-params.js';
import { startServer, stopServer, type ServerProcess } from './servers.js';

export interface FrozenPeerOptions {
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** The client's tick, which checks keepalive. */
  tickMs: number;
  /** How long the server stays frozen after the pool found it. */
  frozenSeconds: number;
  inFlight: number;
  /** A guard: how long to wait for detection, and for recovery, before giving up. Default 60 s. */
  guardMs?: number;
}

const transport = tcpTransport(nodeRuntime);
const text = new TextDecoder();

type Phase = 'warm' | 'frozen' | 'found' | 'thawed';

/** Calls that started in one phase. */
class Tally {
  started = 0;
  ok = 0;
  failed = 0;
  /** Answered by the frozen server. */
  byFrozen = 0;
  lostIdempotent = 0;
  readonly errors = new Map<string, number>();
}

/** The flood's calls, each tallied under the phase it started in. */
class Phases {
  now: Phase = 'warm';
  readonly tallies = new Map<Phase, Tally>((['warm', 'frozen', 'found', 'thawed'] as const).map((p) => [p, new Tally()]));

  constructor(private readonly frozenName: string) {}

  tally(phase: Phase): Tally {
    return this.tallies.get(phase)!;
  }

  /** Makes call `n` through `pool`: even ones idempotent, retried off the frozen server and never to be lost. */
  async call(pool: FailoverPool, n: number): Promise<void> {
    const t = this.tally(this.now);
    t.started++;
    try {
      const reply = await pool.call(ACTION.run, new Uint8Array(0), { idempotent: n % 2 === 0 });
      t.ok++;
      if (text.decode(reply.msg) === this.frozenName) t.byFrozen++;
    } catch (err) {
      t.failed++;
      if (n % 2 === 0) t.lostIdempotent++;
      const kind = describeError(err);
      t.errors.set(kind, (t.errors.get(kind) ?? 0) + 1);
      throw err;
    }
  }
}

export async function runFrozenPeer(o: FrozenPeerOptions): Promise<ScenarioReport> {
  const guardMs = o.guardMs ?? 60_000;
  const servers: ServerProcess[] = [];
  for (let i = 0; i < 3; i++) servers.push(await startServer({ name: `server${i}`, role: 'back' }));
  const frozen = servers[1]!;
  const phases = new Phases(frozen.name);
  let frozenAt = 0;
  let foundAfterMs: number | undefined;
  const pool = watchedPool(servers, o, (address) => {
    if (phases.now !== 'frozen' || address !== frozen.address) return;
    foundAfterMs = Date.now() - frozenAt;
    phases.now = 'found';
  });
  const flood = new Flood((n) => phases.call(pool, n), o.inFlight);
  let recovered = false;
  try {
    await holdsWithin(() => phases.tally('warm').ok >= 100, guardMs);
    frozen.proc.kill('SIGSTOP');
    frozenAt = Date.now();
    phases.now = 'frozen';
    if (await holdsWithin(() => foundAfterMs !== undefined, guardMs)) await sleep(o.frozenSeconds * 1000);
    frozen.proc.kill('SIGCONT');
    phases.now = 'thawed';
    recovered = await holdsWithin(() => phases.tally('thawed').byFrozen > 0, guardMs);
  } finally {
    frozen.proc.kill('SIGCONT');
    await flood.stop();
    await pool.close();
    for (const s of servers) await stopServer(s);
  }
  return report(o, phases.tallies, foundAfterMs, recovered, flood);
}

/** A FailoverPool over `servers` that calls `lost(address)` when a server's pool stops being ready. */
function watchedPool(servers: readonly ServerProcess[], o: FrozenPeerOptions, lost: (address: string) => void): FailoverPool {
  return new FailoverPool({
    transport,
    servers: servers.map((s) => s.address),
    pool: {
      tickMs: o.tickMs,
      // Far longer than keepalive takes: a call on the frozen server must fail by keepalive first.
      stream: { keepaliveMs: o.keepaliveMs, keepaliveTimeoutMs: o.keepaliveTimeoutMs, tickMs: o.tickMs, timeoutMs: 10 * (o.keepaliveMs + o.keepaliveTimeoutMs) },
      onStateChange: (state: PoolState, previous: PoolState, address: string) => {
        if (previous === 'ready' && state !== 'ready') lost(address);
      },
    },
  });
}

function report(o: FrozenPeerOptions, t: Map<Phase, Tally>, detectedMs: number | undefined, recovered: boolean, flood: Flood): ScenarioReport {
  const found = t.get('found')!;
  const timeouts = [...flood.errors].filter(([k]) => k.startsWith('Timeout/')).reduce((n, [, c]) => n + c, 0);
  const bound = o.keepaliveMs + o.keepaliveTimeoutMs + 2 * o.tickMs;
  const checks: Check[] = [
    check('frozen server found by keepalive', detectedMs !== undefined, detectedMs === undefined ? 'never' : 'yes'),
    check('found within keepalive + its timeout + two ticks', detectedMs !== undefined && detectedMs <= bound + 100, `${detectedMs ?? '-'} ms (bound ${bound} ms)`, true),
    none('calls failed by their own timeout instead of keepalive', timeouts),
    check('calls made while it was frozen and found', found.started > 0, String(found.started)),
    none('calls made after it was found that failed (sent to it)', found.failed, `of ${found.started} (${errorSummary(found.errors)})`),
    none('calls made after it was found that it answered', found.byFrozen),
    none('idempotent calls lost', [...t.values()].reduce((n, x) => n + x.lostIdempotent, 0)),
    check('it serves calls again once it answers (after SIGCONT)', recovered, recovered ? 'yes' : 'no'),
  ];
  return {
    scenario: 'frozen peer',
    figures: [
      ['keepalive', `ping after ${o.keepaliveMs} ms quiet, dead after ${o.keepaliveTimeoutMs} ms unanswered, tick ${o.tickMs} ms`],
      ['found after', detectedMs === undefined ? 'never' : `${detectedMs} ms`],
      ...[...t].map(([p, x]) => [`calls ${p}`, `${x.started} started, ${x.ok} ok (${x.byFrozen} by the frozen server), ${x.failed} failed: ${errorSummary(x.errors)}`] as const),
    ],
    checks,
  };
}
