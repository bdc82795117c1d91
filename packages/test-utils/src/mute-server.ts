import net from 'node:net';
import tls from 'node:tls';
import { onTestFinished } from 'vitest';
import { tmpSocketPath } from './ports.js';
import { within } from './wait.js';

/**
 * A server that accepts connections and never answers: a TLS handshake (over plain TCP), or a
 * WebSocket upgrade (with `tls`, after a TLS handshake it completes), hangs on it for as long as
 * the client waits. It notes each connection and its close, so a test can tell a client that let
 * go of a connect it gave up from one that leaked it.
 */
export interface MuteServer {
  /** Where it listens: `127.0.0.1:<port>` or `unix:<path>`. */
  readonly address: string;
  /** Connections accepted so far (with `tls`, those whose TLS handshake is done: each now waits for an upgrade). */
  readonly accepted: number;
  /** Resolves once `n` connections were accepted, as `accepted` counts (bounded, naming what it waited for). */
  acceptedAtLeast(n: number): Promise<void>;
  /** Resolves once every connection accepted so far has closed: its peer let it go (bounded). */
  allClosed(): Promise<void>;
}

export interface MuteServerOptions {
  /** A Unix socket instead of loopback TCP. */
  unix?: boolean;
  /** Completes a TLS handshake with this certificate, then says nothing (a wss server that never upgrades). */
  tls?: { cert: string; key: string };
}

const WAIT_MS = 20_000;

/** Starts a MuteServer, closed (its connections destroyed) when the test ends. */
export async function muteServer(options: MuteServerOptions = {}): Promise<MuteServer> {
  const sockets: net.Socket[] = [];
  const closes: Promise<void>[] = [];
  const waiters: (() => void)[] = [];
  let accepted = 0;
  const onSocket = (s: net.Socket): void => {
    s.on('error', () => {});
    sockets.push(s);
    closes.push(new Promise((resolve) => s.once('close', () => resolve())));
  };
  const onAccepted = (): void => {
    accepted++;
    for (const w of waiters.splice(0)) w();
  };
  // What arrives is read and dropped: a socket never read would not see its peer's FIN, nor close.
  const server = options.tls
    ? tls.createServer({ ...options.tls }, (s) => (s.on('error', () => {}).resume(), onAccepted()))
    : net.createServer((s) => (onSocket(s), s.resume(), onAccepted()));
  // Every TCP socket is watched for its close, a TLS one from before its handshake.
  if (options.tls) server.on('connection', onSocket);
  server.on('tlsClientError', () => {});
  const path = options.unix ? tmpSocketPath('mute') : undefined;
  await new Promise<void>((resolve) => (path ? server.listen(path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = path ? `unix:${path}` : `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    get accepted() {
      return accepted;
    },
    acceptedAtLeast(n) {
      const reached = new Promise<void>((resolve) => {
        const check = (): void => (accepted >= n ? resolve() : void waiters.push(check));
        check();
      });
      return within(reached, WAIT_MS, `${n} connection(s) to the mute server`);
    },
    allClosed: () => within(Promise.all([...closes]).then(() => undefined), WAIT_MS, 'the client to close its connections to the mute server'),
  };
}
