/**
 * chaos: a flood through a FailoverPool over three server processes, and a kill -9 in the middle
 * of it; or through a chain of two hops (client → three fronts → three backs), where a back and
 * then a front are killed. Every server logs each call it runs before answering, so the runner
 * counts runs per call id, the killed servers' too: no idempotent call may be lost, none may run
 * twice but for the retry of an answer a kill lost, and no call may be failed as "never ran"
 * after it ran.
 */
import { RpcError } from '@skein/core';
import { waitFor } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Executions, Outcome, type ServerLog } from './executions.js';
import { Flood, errorSummary } from './flood.js';
import { ACTION } from './server-params.js';
import { scratchDir, startServer, stopServer, type ServerProcess } from './servers.js';

export interface ChaosOptions {
  /** 1: client → servers; 2: client → fronts → backs. */
  hops: 1 | 2;
  seconds: number;
  /** Calls in all; the run stops sooner when `seconds` are up. */
  calls: number;
  /** Calls in flight at once. */
  inFlight: number;
}

const transport = tcpTransport(nodeRuntime);
/** Each call's work on a back server, between its log line and its answer. */
const WORK_MS = 5;
const utf8 = new TextEncoder();

/** A server killed mid-flood, and when. */
interface Kill {
  readonly server: ServerProcess;
  /** Share of the run after which it dies. */
  readonly at: number;
  afterCall?: number;
}

export async function runChaos(o: ChaosOptions): Promise<ScenarioReport> {
  const logs = scratchDir();
  const backs: ServerProcess[] = [];
  const fronts: ServerProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) backs.push(await startServer({ name: `back${i}`, role: 'back', executions: logs.file(`back${i}`), workMs: WORK_MS }));
    if (o.hops === 2) {
      const addresses = backs.map((b) => b.address);
      for (let i = 0; i < 3; i++) fronts.push(await startServer({ name: `front${i}`, role: 'front', backs: addresses, executions: logs.file(`front${i}`) }));
    }
    const kills: Kill[] = o.hops === 1 ? [{ server: backs[1]!, at: 0.5 }] : [{ server: backs[1]!, at: 1 / 3 }, { server: fronts[1]!, at: 2 / 3 }];
    const entry = o.hops === 1 ? backs : fronts;
    const seen = await flood(entry.map((s) => s.address), o, kills);
    for (const s of [...fronts, ...backs]) await stopServer(s);
    const killed = new Set(kills.map((k) => k.server));
    const logOf = (s: ServerProcess): ServerLog => ({ name: s.name, killed: killed.has(s), text: logs.read(s.name) });
    const runs = new Executions(seen.outcomes.length, backs.map(logOf), fronts.map(logOf));
    return report(o, seen, runs, kills);
  } finally {
    for (const s of [...fronts, ...backs]) await stopServer(s);
    logs.remove();
  }
}

interface Seen {
  readonly outcomes: number[];
  readonly flood: Flood;
  readonly seconds: number;
}

/** Calls `run` (or `forward`) with ids 0, 1, ...; even ids are idempotent. Kills each server at its share of the run. */
async function flood(addresses: string[], o: ChaosOptions, kills: Kill[]): Promise<Seen> {
  const pool = new FailoverPool({ transport, servers: addresses });
  const outcomes: number[] = [];
  const action = o.hops === 1 ? ACTION.run : ACTION.forward;
  const call = async (n: number): Promise<void> => {
    const idempotent = n % 2 === 0;
    const msg = utf8.encode(o.hops === 1 ? String(n) : `${n} ${idempotent ? 1 : 0}`);
    try {
      await pool.call(action, msg, { idempotent });
      outcomes[n] = Outcome.Ok;
    } catch (err) {
      outcomes[n] = err instanceof RpcError && err.retry === 'safe' ? Outcome.FailedUnrun : Outcome.Failed;
      throw err;
    }
  };
  const started = Date.now();
  const share = (): number => Math.max((Date.now() - started) / (o.seconds * 1000), outcomes.length / o.calls);
  const flood = new Flood(call, o.inFlight);
  for (const kill of kills) {
    await waitFor(() => share() >= kill.at, { timeoutMs: Infinity });
    kill.afterCall = flood.started;
    kill.server.proc.kill('SIGKILL');
  }
  await waitFor(() => share() >= 1, { timeoutMs: Infinity });
  await flood.stop();
  await pool.close();
  return { outcomes, flood, seconds: (Date.now() - started) / 1000 };
}

function report(o: ChaosOptions, seen: Seen, runs: Executions, kills: Kill[]): ScenarioReport {
  const { outcomes } = seen;
  let lost = 0;
  let twice = 0;
  let againUnexplained = 0;
  let againAfterKill = 0;
  let phantom = 0;
  let unrunButRan = 0;
  let mayHaveRun = 0;
  for (let id = 0; id < outcomes.length; id++) {
    const idempotent = id % 2 === 0;
    const outcome = outcomes[id];
    if (idempotent && outcome !== Outcome.Ok) lost++;
    if (!idempotent && runs.runs(id) > 1) twice++;
    if (idempotent && runs.runs(id) > 1) {
      if (runs.touchedKilled[id]) againAfterKill++;
      else againUnexplained++;
    }
    if (outcome === Outcome.Ok && runs.back[id] === 0) phantom++;
    if (outcome === Outcome.FailedUnrun && runs.ran(id)) unrunButRan++;
    if (!idempotent && outcome === Outcome.Failed) mayHaveRun++;
  }
  const calls = outcomes.length;
  const checks: Check[] = [
    ...kills.map((k) => check(`calls after ${k.server.name} was killed`, k.afterCall !== undefined && calls > k.afterCall, `${calls - (k.afterCall ?? calls)}`)),
    none('idempotent calls lost', lost, `of ${Math.ceil(calls / 2)}`),
    none('non-idempotent calls run twice', twice, `of ${Math.floor(calls / 2)}`),
    none('idempotent calls run again with no kill to explain it', againUnexplained),
    none('calls answered ok that no back server ran', phantom),
    none('calls failed as "never ran" that ran', unrunButRan),
  ];
  return {
    scenario: o.hops === 1 ? 'chaos' : 'chaos, two hops',
    figures: [
      ['calls', `${calls} in ${seen.seconds.toFixed(1)} s (${Math.round(calls / seen.seconds)}/s), ${o.inFlight} in flight`],
      ['killed', kills.map((k) => `${k.server.name} (kill -9 after call ${k.afterCall})`).join(', ')],
      ['failed', `${seen.flood.failed}: ${errorSummary(seen.flood.errors)}`],
      ['non-idempotent calls failed as "may have run"', mayHaveRun],
      ['idempotent calls run again after a kill lost their answer', againAfterKill],
    ],
    checks,
  };
}
