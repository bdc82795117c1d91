import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { consoleLogger, guardedLogger, invalidArgument, MAX_TIMER_MS, systemClock, type Clock, type Logger } from '@skein/core';

/** What a full input queue does with the next request. Either way the refused one gets Overloaded, unrun. */
export type WhenFull = 'reject-new' | 'shed-oldest';

export interface WorkerPoolOptions {
  /**
   * The module every worker loads: a file path (relative to the working directory) or a `file:`
   * URL. Its default export is a `WorkerModule`: `createServiceDispatch` options, a `Dispatch`,
   * or a function returning either.
   */
  module: string | URL;
  /** Worker threads. Default: the machine's available parallelism. */
  workers?: number | undefined;
  /**
   * Requests waiting for a worker (those the workers hold are counted by
   * `maxInFlightPerWorker`). Default 4096. When it is full, each connection with calls waiting
   * has a fair share of it (this over their number): one under its share is let in, and one past
   * its share gives up a place, as `whenFull` says; alone, a connection's share is all of it.
   */
  maxQueued?: number | undefined;
  /**
   * Requests one worker holds at once; a batch never carries more. Default 64, at most 65536 (the
   * pool keeps a place for every call its workers may hold, made when it starts).
   */
  maxInFlightPerWorker?: number | undefined;
  /**
   * Which call of the connection that gives up a place in a full queue is answered Overloaded:
   * `'reject-new'` (default) its newest (for a connection at its share, the new request);
   * `'shed-oldest'` its oldest waiting one, and the new one is queued.
   */
  whenFull?: WhenFull | undefined;
  /** Where worker crashes are logged. Default: the console at warn and error. */
  logger?: Logger | undefined;
  /**
   * Send the crash detail (which worker, exit code, "the handler may have run") with the IO error
   * that fails the calls a crashed worker held. Only for Skein clients: a razor peer reads a
   * detailed error string as a custom error. Default false: the client gets a bare IO error,
   * which it also reads as "may have run".
   */
  exposeInternalErrors?: boolean | undefined;
  /** Node flags for the workers (`Worker`'s `execArgv`). Default: the process's own. */
  execArgv?: string[] | undefined;
  /**
   * Each worker's heap and stack limits (`Worker`'s `resourceLimits`): a handler that runs out
   * ends its own worker, which is replaced, instead of the whole process. Default: Node's.
   */
  resourceLimits?: ResourceLimits | undefined;
  /**
   * A worker that holds calls and reads none of the pool's messages for this long (its thread is
   * blocked by a handler that never yields, or deaf: a handler removed the port's listeners) is
   * ended and replaced, and the calls it held fail IO (may have run), as after a crash (those of
   * batches it never took go to another worker). Checked on a coarse timer, a quarter of it, only
   * while a worker holds calls. A synchronous stretch longer than it (one handler, or one batch of
   * them) is taken for a stall: keep it above the longest. Default 30000; 0 turns it off.
   */
  stallTimeoutMs?: number | undefined;
  /**
   * A worker whose module has not loaded this long after it was started (a top-level loop that
   * never yields, a top-level await that never settles) is ended: `start` then rejects with
   * InvalidArgument naming it, and a replacement that hangs so is not replaced again (the calls
   * waiting for it fail Closed, unrun, once no worker is left). Default 60000; 0 turns it off.
   */
  loadTimeoutMs?: number | undefined;
  /**
   * Times the window of the "queue full" warn line (at most one line per 10 s, with the count of
   * calls refused since the last). Default `systemClock`; tests drive a manual one.
   */
  clock?: Clock | undefined;
}

export interface PoolSettings {
  readonly module: string;
  readonly workers: number;
  readonly maxQueued: number;
  readonly maxInFlightPerWorker: number;
  readonly whenFull: WhenFull;
  readonly logger: Logger;
  readonly expose: boolean;
  readonly execArgv: string[] | undefined;
  readonly resourceLimits: ResourceLimits | undefined;
  /** 0: off. */
  readonly stallTimeoutMs: number;
  /** 0: off. */
  readonly loadTimeoutMs: number;
  readonly clock: Clock;
}

/** Checks a pool's options (a bad one throws InvalidArgument naming it) and fills in defaults. */
export function resolvePoolOptions(opts: WorkerPoolOptions): PoolSettings {
  const whenFull = opts.whenFull ?? 'reject-new';
  if (whenFull !== 'reject-new' && whenFull !== 'shed-oldest') throw invalidArgument(`whenFull must be 'reject-new' or 'shed-oldest', got ${String(whenFull)}`);
  return {
    module: moduleUrl(opts.module),
    workers: count(opts.workers ?? availableParallelism(), 'workers'),
    maxQueued: count(opts.maxQueued ?? 4096, 'maxQueued'),
    maxInFlightPerWorker: count(opts.maxInFlightPerWorker ?? 64, 'maxInFlightPerWorker', MAX_IN_FLIGHT_PER_WORKER),
    whenFull,
    // Its lines come on the way to calls' outcomes (a crash, a stall): one it cannot write must not stop those.
    logger: guardedLogger(opts.logger ?? consoleLogger('warn', 'skein')),
    expose: opts.exposeInternalErrors ?? false,
    execArgv: opts.execArgv,
    resourceLimits: opts.resourceLimits,
    stallTimeoutMs: bound(opts.stallTimeoutMs ?? 30_000, 'stallTimeoutMs'),
    loadTimeoutMs: bound(opts.loadTimeoutMs ?? 60_000, 'loadTimeoutMs'),
    clock: opts.clock ?? systemClock,
  };
}

/**
 * The pool's places for held calls are made at start (workers × this): a value meant as "no
 * limit" must be refused in words, not end in an array that cannot be made (or a heap's worth).
 */
const MAX_IN_FLIGHT_PER_WORKER = 65_536;

function count(n: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!(Number.isInteger(n) && n > 0)) throw invalidArgument(`${name} must be a positive integer, got ${n}`);
  if (n > max) throw invalidArgument(`${name} must be at most ${max}, got ${n}`);
  return n;
}

/** A negative bound would end every worker at once; NaN would turn the check off unnoticed; past a timer's reach it would spin. */
function bound(ms: number, name: string): number {
  if (!(typeof ms === 'number' && ms >= 0 && ms <= MAX_TIMER_MS)) throw invalidArgument(`${name} must be a number of ms >= 0 and at most ${MAX_TIMER_MS} (0: off), got ${ms}`);
  return ms;
}

/** Workers import the module from their own entry, so a relative path must be made absolute here. */
function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (typeof m !== 'string' || m === '') throw invalidArgument(`module must be a file path or a file: URL, got ${String(m)}`);
  if (m.startsWith('file:')) return m;
  if (isAbsolute(m) || m.startsWith('.')) return pathToFileURL(resolve(m)).href;
  throw invalidArgument(`module must be a file path or a file: URL, got ${m} (a bare name would resolve from @skein/workers, not from your code)`);
}
