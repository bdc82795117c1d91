import type { FailoverPoolOptions, RpcServerOptions } from '@skein/stream';
import type { TcpTransportOptions } from '@skein/transport-tcp';

/**
 * What a fault server child is told, as JSON in its one argument: the runner and the child
 * (fault-server.ts) share this file and nothing else.
 */
export interface ServerParams {
  /** Named in replies and execution logs: which server answered, which one ran a call. */
  readonly name: string;
  /** `back` runs calls; `front` passes each call on to the back servers through a FailoverPool. */
  readonly role: 'back' | 'front';
  /** Where to listen, `host:port`. Default `127.0.0.1:0`; a NetLab host listens on its own address. */
  readonly listen?: string;
  /** RpcServer options that travel as JSON. */
  readonly server?: Omit<RpcServerOptions, 'dispatch' | 'logger' | 'clock'>;
  readonly transport?: TcpTransportOptions;
  /** A file each execution of `run` or `forward` is appended to, one line each, before the reply. */
  readonly executions?: string;
  /**
   * How long `run` works after it is logged and before it answers: a kill in between loses an
   * answer to a call that ran, which is what retries must not turn into a second run.
   */
  readonly workMs?: number;
  /** Prints `stats <json>` (ServerStats) this often: for a runner that cannot call it (NetLab hosts). */
  readonly statsEveryMs?: number;
  /** A front's back servers. */
  readonly backs?: readonly string[];
  /** A front's FailoverPool options. */
  readonly pool?: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock' | 'logger'>;
}

/** The actions a fault server answers. */
export const ACTION = {
  /** Numeric action 1: the message and blob back, at once (what fuzzed frames call). */
  echoNumeric: 1,
  echo: 'echo',
  /** Runs a call: msg `<id>` or `<id> <front>`; logs the execution, answers the server's name. */
  run: 'run',
  /** A front's call: msg `<id> <0|1 idempotent>`; logs, then calls `run` on a back server. */
  forward: 'forward',
  /** Streams (stream-order.ts): msg a StreamOrder; a back runs them, a front relays them to a back. */
  feed: 'feed',
  sink: 'sink',
  bidi: 'bidi',
  /** The server's memory and connections, as JSON (ServerStats). */
  stats: 'stats',
  /** The same after a full garbage collection: memory held, not garbage. */
  statsAfterGc: 'stats-gc',
} as const;

/** What `stats` answers. */
export interface ServerStats {
  readonly name: string;
  readonly pid: number;
  readonly rss: number;
  readonly heapUsed: number;
  /** Bytes of ArrayBuffers: where received frames live, so what a peer can make the server hold. */
  readonly arrayBuffers: number;
  readonly connections: number;
  readonly executions: number;
  /** Requests being handled (RpcServer stats: calls, and streams being answered). */
  readonly inFlight: number;
  /** Stream handlers running (stream-handlers.ts). */
  readonly openStreams: number;
  /** Stream handlers whose signal fired: a cancel, a deadline or a lost connection reached them. */
  readonly signalled: number;
  readonly timedOut: number;
  /** Stream handlers that returned an answer. */
  readonly answered: number;
  /** Stream handlers that came with a deadline. */
  readonly withDeadline: number;
  /** Items a sink or bidi handler read out of order. */
  readonly outOfOrder: number;
  /** Blob bytes its feeds wrote (all streams). */
  readonly bytesWritten: number;
  /** A front's calls and streams on its way to the backs (its FailoverPool's inFlight + queued). */
  readonly poolInFlight: number;
  /** Live timers in the process (`Timeout` resources). */
  readonly timers: number;
}

/** The line a fault server prints once it listens. */
export const LISTENING = /^listening (\S+)$/;
/** The line it prints every `statsEveryMs`: its ServerStats as JSON. */
export const STATS = /^stats (.*)$/;
/** The line it prints once closed after SIGTERM: the handles it left behind, as JSON. */
export const CLOSED = /^closed handles=(.*)$/;
