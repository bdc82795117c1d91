/**
 * @skein/cli: the `skein` command (see bin.ts), and its parts for programs that want them.
 *
 * One command line, one exit code. `main` reads the whole line first (args.ts, target.ts,
 * codecs.ts, session.ts), so everything the line itself can get wrong (an address, a codec, a
 * method name, JSON, an option) fails with exit 2 before anything connects. Then one
 * command runs: `call` (call.ts) sends `Service.method` as a typed @skein/api client would, with
 * no service definition; `ping` (ping.ts) times round trips; `bench` (bench.ts) keeps calls in
 * flight and reads latencies into a fixed-memory histogram (latency-histogram.ts); `health`
 * (health.ts) asks a server's health service, exiting with a code per status (a probe); `servers`
 * (servers.ts) reads what @skein/discovery-etcd registered. `--timeout` is one deadline for
 * connect, hello and first answer (deadline.ts); replies print as JSON (render.ts), and text
 * from a server is made safe for a terminal before it is shown (terminal-text.ts).
 */

// ── Running the command from a program of your own
export { main } from './main.js';

// ── Its parts: addresses to transports, latency percentiles
export { parseTarget } from './target.js';
export type { Target } from './target.js';
export { LatencyHistogram } from './latency-histogram.js';
export type { BenchSummary } from './bench.js';
