import type { Duplex } from 'node:stream';
import type { FrameSpec } from '@skein/core';
import type { WebSocket } from 'ws';
import type { MessageConn, MessageConnOptions } from './message-conn.js';
import { UpgradingWsSocket } from './upgrading-ws-socket.js';
import type { PendingMessages } from './pending-messages.js';

/**
 * What ws may hold for a peer besides the bytes of its message (maxPayload):
 * - maxFragments: each fragment is a Buffer of its own (about 130 B of heap), so a peer sending
 *   one-byte fragments holds ~2 MiB at most. Skein's own senders stay far under it (messages are
 *   cut at maxBatchBytes). Read chunks: chunk-guard.ts.
 * - maxPendingAutoPongs: the answers to its pings not yet written; past them the peer is dropped.
 *   Before ws 8.23 every ping was answered however many waited, so a peer that pinged and never
 *   read grew the send buffer without bound (hence the package's `ws` range).
 * ws's own defaults (8.21, 8.23), given here so that no other default applies.
 */
export const WS_RECEIVE_LIMITS = Object.freeze({ maxFragments: 16 * 1024, maxPendingAutoPongs: 60 });

/**
 * A MessageConn over a `ws` WebSocket (client or server side).
 *
 * Sending: a message of several chunks goes out as fragments of one message (`send` with
 * `fin: false`), so long parts are never concatenated. On the server side ws writes each
 * fragment's header and the caller's bytes to the socket without copying; on the client side
 * RFC 6455 requires masking, and ws masks into a fresh buffer (one copy: it never masks a
 * Buffer we pass in place, since it marks our data read-only).
 *
 * Receiving: ws hands each message as its own Buffer (a view into a socket read that Node
 * never reuses, or a fresh buffer when the message spanned reads or fragments), so frame views
 * into it stay valid.
 *
 * Drain: ws has no public drain event; the send callback fires when a message has been written
 * to the kernel, which is when `bufferedAmount` can have dropped.
 */
export function wsMessageConn(ws: WebSocket, socket: Duplex, remote: string, spec: FrameSpec, options: MessageConnOptions): MessageConn {
  const early = upgradingWsConn(remote, spec, options, () => ws.terminate());
  early.attach(ws, socket);
  return early.conn;
}

/** A MessageConn whose WebSocket comes later: the server hands it over at accept, before the upgrade. */
export interface UpgradingWsConn {
  readonly conn: MessageConn;
  /** The upgrade is done: `ws`, over `socket`, carries the connection from now on (what was written before goes first). */
  attach(ws: WebSocket, socket: Duplex): void;
}

/** See UpgradingWsSocket: until `attach`, writes wait, a pause is remembered, and a close, terminate or end calls `drop`; `pending`: a listener's budget of messages still arriving. */
export function upgradingWsConn(remote: string, spec: FrameSpec, options: MessageConnOptions, drop: () => void, pending?: PendingMessages): UpgradingWsConn {
  const socket = new UpgradingWsSocket(remote, spec, options, drop, pending);
  return { conn: socket.conn, attach: (ws, wire) => socket.attach(ws, wire) };
}
