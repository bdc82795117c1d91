import { formatAddress, invalidArgument, listenFailed, resolveTls, type Address, type FrameConn, type FrameListener, type FrameSpec } from '@skein/core';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { MessageConn, type MessageSocket } from './message-conn.js';
import type { ResolvedOptions } from './options.js';
import { decide, REFUSAL } from './upgrade-hook.js';
import { loadUws, type UwsModule } from './uws-loader.js';
import { withPemFiles } from './pem-files.js';
import { UwsAppCloser } from './uws-app-closer.js';
import { UwsAdmission } from './uws-admission.js';
import { loadingTls, secureFor } from './tls.js';
import { loadCertAndKey } from './wss-handshake.js';
import { uwsCloseReason } from './over-max-message.js';

/** Per-connection state uWS keeps for us (passed to `upgrade`, returned by `getUserData`). */
interface Slot {
  remote: string;
  conn?: MessageConn;
  /** Set by the close handler: any call on a closed uWS WebSocket throws. */
  dead: boolean;
  /** Holds its share of the listener's maxPendingMessageBytes (from its admission to its close). */
  reserved: boolean;
}

type Accept = (conn: FrameConn) => void;

/** A Skein endpoint on uWebSockets.js: the same contract as the ws server, on uWS's own event loop integration. */
export async function listenUws(
  address: Address,
  spec: FrameSpec,
  accept: Accept,
  options: ResolvedOptions,
  moduleName?: string,
): Promise<FrameListener> {
  // Checked before anything is loaded or bound: a TLS mistake throws InvalidArgument.
  const secure = secureFor(address, options.tls) ? resolveTls(options.tls ?? {}, 'listen') : undefined;
  if (secure?.requestCert) {
    throw invalidArgument('tls.requestCert: uWebSockets.js can ask for a client certificate but not require one, and shows none: use wsTransport for mTLS');
  }
  // Loaded as the ws server loads it: SSLApp says only "App construction failed" for a bad pair.
  if (secure) loadCertAndKey(secure);
  const uws = await loadUws(moduleName);
  // SSLApp: OpenSSL in uSockets. uWS cannot change its certificate while listening (no reloadTls).
  const app = secure ? await withPemFiles(secure, (files) => loadingTls(() => uws.SSLApp(files))) : uws.App();
  const closer = new UwsAppCloser(app);
  const admission = new UwsAdmission(options.maxPendingMessageBytes, options.maxWsMessageBytes, options.logger);
  app.ws<Slot>(options.pathname, behavior(uws, spec, accept, options, closer, admission));
  // Other paths, and plain requests to the endpoint (uWS yields those to the next route).
  app.any('/*', (res) => void res.writeStatus('404 Not Found').end('', true));
  const token = await listenApp(app, address);
  let listening = true;
  const close = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    uws.us_listen_socket_close(token);
    closer.listenerClosed();
  };
  const listener: FrameListener = { address: boundAddress(uws, token, address), close };
  return listener;
}

function behavior(uws: UwsModule, spec: FrameSpec, accept: Accept, options: ResolvedOptions, closer: UwsAppCloser, admission: UwsAdmission): WebSocketBehavior<Slot> {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: options.maxWsMessageBytes,
    // Over this many buffered bytes uWS silently DROPS a send (it returns 2) instead of queueing
    // it. 0 turns the limit off; `congested` and the drain handler do the throttling instead.
    maxBackpressure: 0,
    idleTimeout: idleTimeoutSeconds(options.pingIntervalMs),
    sendPingsAutomatically: options.pingIntervalMs > 0,
    upgrade: (res, req, context) => upgrade(res, req, context, options, admission),
    open: (ws) => {
      closer.opened();
      open(ws, spec, accept, options);
    },
    // uWS neuters `message` when the callback returns (its bytes live in uWS's receive buffer),
    // and frames handed out must stay valid: copy the message once, then hand out views of it.
    message: (ws, message, isBinary) => ws.getUserData().conn?.receive(new Uint8Array(message.slice(0)), isBinary),
    drain: (ws) => void ws.getUserData().conn?.written(),
    // uWS has already queued the pong (2 header bytes and the ping's payload).
    ping: (ws, message) => ws.getUserData().conn?.answeredPing(message.byteLength + 2),
    close: (ws, code, message) => {
      const slot = ws.getUserData();
      slot.dead = true;
      if (slot.reserved) admission.release();
      slot.reserved = false;
      // `message` is only valid during this call, like every ArrayBuffer uWS passes.
      // uWS's refusal of a message over maxPayloadLength names the option that set it.
      slot.conn?.ended(code, uwsCloseReason(code, new TextDecoder().decode(message), options.maxWsMessageBytes));
      closer.ended();
    },
  };
}

/**
 * uWS has no ping interval, only an idle timeout (in seconds, from 8 to 960: other values abort
 * the process) during which it pings the peer once. Two ping intervals is the closest match to
 * the ws server, which drops a peer that missed a ping by the next one.
 */
export function idleTimeoutSeconds(pingIntervalMs: number): number {
  return pingIntervalMs === 0 ? 0 : Math.min(960, Math.max(8, Math.ceil((2 * pingIntervalMs) / 1000)));
}

function upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, options: ResolvedOptions, admission: UwsAdmission): void {
  // `req` lives on uWS's stack for this call only: read everything before awaiting the hook.
  const key = req.getHeader('sec-websocket-key');
  const protocol = req.getHeader('sec-websocket-protocol');
  const extensions = req.getHeader('sec-websocket-extensions');
  const query = req.getQuery();
  const headers: Record<string, string> = {};
  req.forEach((k, v) => void (headers[k] = v));
  const remoteAddress = new TextDecoder().decode(res.getRemoteAddressAsText());
  const info = { url: req.getUrl() + (query ? `?${query}` : ''), headers, remoteAddress };
  const slot: Slot = { remote: remoteAddress, dead: false, reserved: false };
  const admit = (): void => upgradeWithin(admission, res, slot, () => res.upgrade(slot, key, protocol, extensions, context));
  if (!options.upgrade) return admit();
  let aborted = false;
  // Required before returning without answering: uWS terminates the process otherwise.
  res.onAborted(() => void (aborted = true));
  void decide(options.upgrade, info, options.logger).then((verdict) => {
    if (aborted) return;
    // Outside uWS's own callback the response must be corked to be written in one go.
    res.cork(() => {
      // The budget is asked at the verdict: a request waiting on its hook holds none of it.
      if (verdict === 'accept') admit();
      else res.writeStatus(`${REFUSAL[verdict].status} ${REFUSAL[verdict].text}`).end('', true);
    });
  });
}

/**
 * Upgrades when the listener's maxPendingMessageBytes has room for one more connection's share
 * (see UwsAdmission), else answers 503. uWS runs `open` inside `res.upgrade` (the response is
 * live: the hook's path checks `aborted` first), so `close` follows it, which gives the share back.
 */
function upgradeWithin(admission: UwsAdmission, res: HttpResponse, slot: Slot, upgradeNow: () => void): void {
  if (!admission.admit(slot.remote)) return void res.writeStatus('503 Service Unavailable').end('', true);
  slot.reserved = true;
  upgradeNow();
}

function open(ws: WebSocket<Slot>, spec: FrameSpec, accept: Accept, options: ResolvedOptions): void {
  const slot = ws.getUserData();
  const conn = new MessageConn(slot.remote, spec, uwsSocket(ws, slot), options);
  slot.conn = conn;
  try {
    accept(conn);
  } catch (err) {
    options.logger.error({ err, remote: conn.remote }, 'accept threw; closing the connection');
    conn.fail(err);
  }
}

/**
 * The MessageSocket over a uWS WebSocket. uWS copies what it sends into its own buffer unless
 * the socket is uncorked with nothing buffered and the message is 16 KiB or more, which it
 * writes straight from our bytes: so a single-chunk message is sent plainly, and only
 * multi-chunk messages (sent as fragments, so long parts are not concatenated) are corked.
 */
function uwsSocket(ws: WebSocket<Slot>, slot: Slot): MessageSocket {
  /** Bytes handed to uWS, frame headers included: less what it still buffers, what its kernel took (sentBytes). */
  let handed = 0;
  return {
    get bufferedAmount() {
      return slot.dead ? 0 : ws.getBufferedAmount();
    },
    // uWS's own control frames (its answers to pings) are not counted in `handed`: they make the
    // count dip, never rise, so they are never taken for the peer reading (the server's check
    // looks for a rise).
    get sentBytes() {
      return slot.dead ? undefined : handed - ws.getBufferedAmount();
    },
    send(chunks) {
      if (slot.dead) return;
      for (const c of chunks) handed += c.length + serverFrameHeaderBytes(c.length);
      if (chunks.length === 1) ws.send(chunks[0]!, true, false);
      else ws.cork(() => sendFragments(ws, chunks));
    },
    // uWebSockets.js cannot stop reading a WebSocket (its author holds that pausing one direction
    // only is broken by design): the conn holds frames while paused, up to maxHeldBytes, and then
    // drops a peer that keeps sending with 1013.
    pausesReading: false,
    pause: () => {},
    resume: () => {},
    close: (code, reason) => void (slot.dead || ws.end(code, reason)),
    terminate: () => void (slot.dead || ws.close()),
    watchDrain: () => {},
  };
}

/** The header uWS puts before a server's (unmasked) frame of `length` bytes: RFC 6455's 2, plus a 16- or 64-bit length. */
function serverFrameHeaderBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

function sendFragments(ws: WebSocket<Slot>, chunks: Uint8Array[]): void {
  const last = chunks.length - 1;
  ws.sendFirstFragment(chunks[0]!, true, false);
  for (let i = 1; i < last; i++) ws.sendFragment(chunks[i]!, false);
  ws.sendLastFragment(chunks[last]!, false);
}

function listenApp(app: TemplatedApp, address: Address): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    const done = (token: us_listen_socket | false): void => {
      if (token) resolve(token);
      else reject(listenFailed(formatAddress(address), 'uWebSockets.js refused (the address is in use, or not allowed)'));
    };
    if ('path' in address) app.listen_unix(done, address.path);
    else app.listen(address.host, address.port, done);
  });
}

function boundAddress(uws: UwsModule, token: us_listen_socket, asked: Address): Address {
  if ('path' in asked) return asked;
  // Typed for sockets, but uSockets reads a listen socket's port the same way.
  return { host: asked.host, port: uws.us_socket_local_port(token as never) };
}
