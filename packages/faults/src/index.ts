/**
 * @skein/faults (private): the fault suite. Each scenario starts real server processes
 * (fault-server.ts, over TCP on loopback), does its damage, and hands back figures and checks
 * (checks.ts); `pnpm soak` (cli.ts) runs them full size, the tests in test/ run them short.
 *
 * Scenarios:
 * - fuzz.ts: a million random and mutated frames (frames.ts) from many connections.
 * - chaos.ts: kill -9 in a flood through a FailoverPool, over one hop or two; runs per call id
 *   read back from the servers' execution logs (execution-log.ts, executions.ts).
 * - partition.ts: the two-hop chain of chaos across NetLab hosts (network namespaces), with
 *   packets dropped silently mid-flood (links down, one-way cuts); the client is a child on its
 *   own host (flood-client.ts, client-params.ts).
 * - frozen-peer.ts: a server stopped with SIGSTOP, found by keepalive.
 * - slowloris.ts: connections that dribble header and ping bytes.
 * - soak.ts: a long flood; memory flat, nothing left after close.
 * - streams.ts, stream-slow-reader.ts, stream-partition.ts (stream-suite.ts runs them all):
 *   server, client and bidi streams killed, frozen, cancelled, past their deadline, read slowly
 *   and cut off mid-stream, one hop and two (a front relays to a back: stream-handlers.ts); the
 *   client's side is stream-drive.ts, in a child of its own where it must be frozen or on a
 *   NetLab host (stream-client.ts, stream-client-params.ts).
 *
 * Shared: servers.ts (start, stats, stop), flood.ts (closed-loop calls), memory.ts (bounds),
 * guard.ts (waits that only guard against hangs), print.ts (the CLI's output).
 */

// ── Scenarios on connections and calls: each starts real servers, does its damage, hands back a ScenarioReport
export { runFuzz, type FuzzOptions } from './fuzz.js';
export { runChaos, type ChaosOptions } from './chaos.js';
export { runPartition, type PartitionOptions } from './partition.js';
export { runFrozenPeer, type FrozenPeerOptions } from './frozen-peer.js';
export { runSlowloris, type SlowlorisOptions } from './slowloris.js';
export { runSoak, type SoakOptions } from './soak.js';

// ── Scenarios on streams
export { runStreamFaults, type StreamCase, type StreamFault, type StreamFaultsOptions } from './streams.js';
export { runSlowReader, type SlowReaderOptions } from './stream-slow-reader.js';
export { runStreamPartition, type StreamPartitionOptions } from './stream-partition.js';
export { runStreamSuite } from './stream-suite.js';

// ── What a scenario hands back: its figures and checks, and the checks that failed
export { failures, type Check, type ScenarioReport } from './checks.js';
