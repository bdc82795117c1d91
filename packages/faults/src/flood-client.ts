/**
 * A flooding client: one child process that calls `forward` through a real FailoverPool, started
 * by a scenario inside a NetLab host (so that its packets cross the lab's switch, where the
 * scenario drops them), with its ClientParams as JSON in argv[2]. Prints `flooding`, then
 * `started <n>` every few calls; once every call settled, or hung past its deadline and grace,
 * writes what it saw of each call (ClientResults) and prints `done`.
 */
import { writeFileSync } from 'node:fs';
import { RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { callDeadlineMs, type ClientParams, type ClientResults } from './client-params.js';
import { Outcome } from './executions.js';
import { Flood, describeError } from './flood.js';
import { ACTION } from './server-params.js';

const params = JSON.parse(process.argv[2] ?? '{}') as ClientParams;
const utf8 = new TextEncoder();
/** A progress line every this many calls: enough for the runner to place its faults. */
const EVERY = 20;

const pool = new FailoverPool({ ...params.pool, transport: tcpTransport(nodeRuntime), servers: params.servers });
const deadlineMs = callDeadlineMs(params);
const results: ClientResults = { outcomes: [], errors: [], settledMs: [], deadlineMs };
const began = performance.now();
let enough!: () => void;
const allStarted = new Promise<void>((resolve) => (enough = resolve));
let stop!: () => void;
const stopping = new Promise<void>((resolve) => (stop = resolve));
let lastStart = performance.now();

/** Call `n`, once its turn at the rate comes: `<id> <0|1>` to a front, which passes it on. */
async function call(n: number): Promise<void> {
  // A worker past the last call waits for the stop: returning at once, it would loop on
  // microtasks and starve the timers.
  if (n >= params.calls) return stopping;
  const due = began + (n * 1000) / params.ratePerSecond;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  lastStart = performance.now();
  if (n % EVERY === 0) console.log(`started ${n}`);
  if (n + 1 === params.calls) enough();
  const idempotent = n % 2 === 0;
  results.outcomes[n] = 0;
  results.errors[n] = '';
  results.settledMs[n] = -1;
  const start = performance.now();
  try {
    await pool.call(ACTION.forward, utf8.encode(`${n} ${idempotent ? 1 : 0}`), { idempotent, timeoutMs: params.timeoutMs });
    results.outcomes[n] = Outcome.Ok;
  } catch (err) {
    results.outcomes[n] = err instanceof RpcError && err.retry === 'safe' ? Outcome.FailedUnrun : Outcome.Failed;
    results.errors[n] = describeError(err);
    throw err;
  } finally {
    results.settledMs[n] = performance.now() - start;
  }
}

/** Resolves when `p` does or `ms` pass, whichever is first: a hung call must not hang the run. */
const atMost = (p: Promise<unknown>, ms: number): Promise<unknown> => Promise.race([p, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

/**
 * Resolves once no call has started for a deadline and a grace: every worker waits on a call
 * that hung. The calls not made then are reported as such, and the hung ones as never settled.
 */
function stalled(): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (performance.now() - lastStart < deadlineMs + params.graceMs) return;
      clearInterval(t);
      resolve();
    }, 250);
    t.unref();
  });
}

const flood = new Flood(call, params.inFlight);
console.log('flooding');
await Promise.race([allStarted, stalled()]);
// Every call started settles by its deadline, or is reported as never settled.
const stopped = flood.stop();
stop();
await atMost(stopped, deadlineMs + params.graceMs);
writeFileSync(params.out, JSON.stringify(results));
console.log('done');
await atMost(pool.close(), params.graceMs);
process.exit(0);
