import type { ScenarioName } from '../src/expected.js';
import type { RuntimeName } from './runtimes.js';

/** The server transports of this repository the matrix starts. */
export type ServerTransport = 'tcp' | 'ws' | 'uws';

export interface ServerConfig {
  runtime: RuntimeName;
  transport: ServerTransport;
  socket: 'tcp' | 'unix';
  /** TLS: the server serves tls:// (TCP) or wss:// (WebSocket) with the suite's throwaway certificates. */
  tls?: boolean;
}

/** The scenarios a client runs against a server, or why that pair cannot be tested. */
export type ClientCell = readonly ScenarioName[] | { readonly gap: string };

export interface MatrixRow {
  server: ServerConfig;
  /** Clients by runtime. The Node client runs in the test process, the others in a child. */
  clients?: Partial<Record<RuntimeName, ClientCell>>;
  /** A server that must refuse to start, and the line it must print saying why. */
  refuses?: { why: string; output: RegExp };
}

const ALL: readonly ScenarioName[] = ['calls', 'errors', 'errorDetail', 'blobs', 'concurrency', 'timeout', 'auth', 'streams', 'cancel', 'deadline', 'remote', 'congestedWrites', 'backpressure'];
/**
 * Bun's ws client is the runtime's standard WebSocket, which cannot stop reading: a paused conn
 * holds what arrives up to `maxHeldBytes`, then closes (docs/transports.md, "Pause"), so a slow
 * reader there is not one the server can see. Everything else runs. Deno's is `ws`, as Node's.
 */
const STANDARD_WEBSOCKET: readonly ScenarioName[] = ALL.filter((n) => n !== 'backpressure');
const CALLS: readonly ScenarioName[] = ['calls'];

const NO_UNIX_WS = { gap: 'the standard WebSocket API (the ws client on Bun) cannot dial a Unix socket' };
const UWS_NATIVE_ONLY = {
  why: 'uWebSockets.js has a native build for Node 20 only; elsewhere it falls back to JS, which listen refuses',
  output: /^listen-error UwsUnavailableError: .*pure-JavaScript fallback/,
};

const tcp = (runtime: RuntimeName, transport: ServerTransport): ServerConfig => ({ runtime, transport, socket: 'tcp' });
const secure = (s: ServerConfig): ServerConfig => ({ ...s, tls: true });
/**
 * What TLS rows run across runtimes: calls and errors over TLS / WSS, and the extension frames
 * (streams with their credit, cancel, deadlines), whose interleaved writes and reads TLS records
 * cut differently; the rest is the same code above TLS.
 */
const OVER_TLS: readonly ScenarioName[] = ['calls', 'errors', 'concurrency', 'streams', 'cancel', 'deadline', 'remote', 'backpressure'];
const ALL_OVER_TLS = { node: OVER_TLS, bun: OVER_TLS, deno: OVER_TLS };
// Bun's ws client is its standard WebSocket, which cannot stop reading (README note 5). Deno's
// (ws over node:tls) runs backpressure since its pause stops the TCP reads too (README note 6).
const WSS_OVER_TLS = { node: OVER_TLS, bun: OVER_TLS.filter((n) => n !== 'backpressure'), deno: OVER_TLS };
const unix = (runtime: RuntimeName, transport: ServerTransport): ServerConfig => ({ runtime, transport, socket: 'unix' });

/**
 * Every server the suite starts, and the clients that call it. Each row is one server process,
 * started once; the Node client also sends malformed frames, and every row that starts ends with
 * the server's graceful close (SIGTERM).
 */
export const MATRIX: readonly MatrixRow[] = [
  { server: tcp('node', 'tcp'), clients: { node: ALL, bun: ALL, deno: ALL } },
  { server: unix('node', 'tcp'), clients: { node: ALL, bun: CALLS, deno: CALLS } },
  { server: tcp('node', 'ws'), clients: { node: ALL, bun: STANDARD_WEBSOCKET, deno: ALL } },
  { server: unix('node', 'ws'), clients: { node: ALL, bun: NO_UNIX_WS, deno: CALLS } },
  { server: tcp('node', 'uws'), clients: { node: ALL, bun: STANDARD_WEBSOCKET, deno: ALL } },
  { server: unix('node', 'uws'), clients: { node: ALL, bun: NO_UNIX_WS, deno: CALLS } },

  { server: tcp('bun', 'tcp'), clients: { node: ALL, bun: ALL, deno: ALL } },
  { server: unix('bun', 'tcp'), clients: { node: ALL, bun: CALLS, deno: CALLS } },
  { server: tcp('bun', 'ws'), clients: { node: ALL, bun: STANDARD_WEBSOCKET, deno: ALL } },
  { server: unix('bun', 'ws'), clients: { node: ALL, bun: NO_UNIX_WS, deno: CALLS } },
  { server: tcp('bun', 'uws'), refuses: UWS_NATIVE_ONLY },

  { server: tcp('deno', 'tcp'), clients: { node: ALL, bun: ALL, deno: ALL } },
  { server: unix('deno', 'tcp'), clients: { node: ALL, bun: CALLS, deno: CALLS } },
  { server: tcp('deno', 'ws'), clients: { node: ALL, bun: STANDARD_WEBSOCKET, deno: ALL } },
  { server: unix('deno', 'ws'), clients: { node: ALL, bun: NO_UNIX_WS, deno: CALLS } },
  { server: tcp('deno', 'uws'), refuses: UWS_NATIVE_ONLY },

  { server: secure(tcp('node', 'tcp')), clients: ALL_OVER_TLS },
  { server: secure(tcp('node', 'ws')), clients: WSS_OVER_TLS },
  { server: secure(tcp('node', 'uws')), clients: WSS_OVER_TLS },
  { server: secure(tcp('bun', 'tcp')), clients: ALL_OVER_TLS },
  { server: secure(tcp('bun', 'ws')), clients: WSS_OVER_TLS },
  { server: secure(tcp('deno', 'tcp')), clients: ALL_OVER_TLS },
  { server: secure(tcp('deno', 'ws')), clients: WSS_OVER_TLS },
];
