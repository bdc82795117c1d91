/**
 * @skein/cli: the `skein` command (see bin.ts), and its parts for programs that want them.
 * - main: one command line to an exit code.
 * - parseTarget: an ADDR (host:port, unix:/path, ws://...) to a transport and an address.
 * - LatencyHistogram: fixed-memory latency percentiles.
 */
export { main } from './main.js';
export { parseTarget } from './target.js';
export type { Target } from './target.js';
export { LatencyHistogram } from './latency-histogram.js';
export type { BenchSummary } from './bench.js';
