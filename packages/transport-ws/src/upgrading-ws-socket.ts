import type { Duplex } from 'node:stream';
import { nodeSocketSentBytes, plainBytes, type FrameSpec } from '@skein/core';
import type { RawData, WebSocket } from 'ws';
import { ChunkGuard } from './chunk-guard.js';
import { CloseCode } from './close-codes.js';
import { lingerThen } from './close-linger.js';
import { MessageConn, type MessageConnOptions, type MessageSocket } from './message-conn.js';
import { TlsReadStop } from './tls-read-stop.js';
import type { MessageArrival } from './message-arrival.js';
import { arrivalOf } from './ws-receiver.js';
import { wsErrorReason } from './over-max-message.js';
import type { PendingMessages } from './pending-messages.js';

/** ws copies its send options, so the two kinds of fragment share constant ones (send runs per fragment). */
const MORE = Object.freeze({ binary: true, compress: false, fin: false });
const LAST = Object.freeze({ binary: true, compress: false, fin: true });

const NOTHING = (): void => {};

/**
 * The MessageSocket of a connection made before its WebSocket: until `attach`, what is written
 * waits here (sent once upgraded, in order), a pause is remembered, and a close or terminate
 * calls `drop` (which closes the socket beneath: no close frame can be sent yet). Nothing is
 * received before `attach`, so nothing is delivered.
 *
 * An end before `attach` drops it too: held, it kept a server's graceful close waiting for a
 * peer that may never finish its upgrade (upgradeTimeoutMs). What was written before goes with
 * it: no call can have been read on it, so none of that is an answer someone waits for.
 */
export class UpgradingWsSocket implements MessageSocket {
  readonly conn: MessageConn;
  // Public since ws 8: stops reading the socket, so the kernel buffer fills and the peer slows.
  readonly pausesReading = true;
  private ws: WebSocket | undefined;
  /** What `ws` holds of the message under way, once attached. */
  private arrival: MessageArrival | undefined;
  /** The socket `ws` runs over, once attached: what its kernel took is read from it (sentBytes). */
  private wire: Duplex | undefined;
  /** Where pausing ws leaves the reads beneath it going (Deno's node:tls), what stops them too. */
  private beneath: TlsReadStop | undefined;
  private dropped = false;
  /** Messages written before the upgrade, and their bytes. */
  private early: Uint8Array[][] | undefined;
  private earlyBytes = 0;
  private pausedEarly = false;
  /** The message's bytes ws held at the server's last look at `midMessage`; -1 when not mid-message then. */
  private readAtLastLook = -1;
  /** Made once: ws calls it as each message is written. */
  private readonly onSent = (): void => void this.conn.written();

  constructor(
    remote: string,
    spec: FrameSpec,
    private readonly options: MessageConnOptions,
    private drop: () => void,
    /** The listener's budget of messages still arriving (a server's); a connection this side made has none. */
    private readonly pending?: PendingMessages,
  ) {
    this.conn = new MessageConn(remote, spec, this, options);
  }

  get bufferedAmount(): number {
    return this.ws === undefined ? this.earlyBytes : this.ws.bufferedAmount;
  }

  send(chunks: Uint8Array[]): void {
    const ws = this.ws;
    if (ws === undefined) return isEndMarker(chunks) ? this.dropEarly() : this.hold(chunks);
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) ws.send(chunks[i]!, MORE);
    ws.send(chunks[last]!, LAST, this.onSent);
  }

  pause(): void {
    if (this.ws === undefined) this.pausedEarly = true;
    else this.pauseWs(this.ws);
  }

  resume(): void {
    const ws = this.ws;
    if (ws === undefined) return void (this.pausedEarly = false);
    ws.resume();
    // As ws resumes no socket it has closed, so are a closed socket's reads never restarted.
    if (!ws.isPaused) this.beneath?.start();
  }

  close(code: number, reason: string, givingUp?: boolean): void {
    const ws = this.ws;
    if (ws === undefined) return this.dropEarly();
    ws.close(code, reason);
    if (givingUp) dropAfterLinger(ws, this.options.lingerMs);
  }

  terminate(): void {
    if (this.ws === undefined) this.dropEarly();
    else this.ws.terminate();
  }

  watchDrain(): void {}

  /** What the socket beneath has handed its kernel, framing included (FrameConn.sentBytes); undefined before the upgrade, or off Node's sockets. */
  get sentBytes(): number | undefined {
    return this.wire === undefined ? undefined : nodeSocketSentBytes(this.wire);
  }

  /**
   * What the socket beneath has read of the peer's, framing included (FrameConn.receivedBytes):
   * its `bytesRead`, counted by Node as each read arrives; undefined before the
   * upgrade, or where the socket keeps no such count.
   */
  get receivedBytes(): number | undefined {
    const read = (this.wire as { readonly bytesRead?: unknown } | undefined)?.bytesRead;
    return typeof read === 'number' ? read : undefined;
  }

  /** Unlike midMessage, read without a side effect: the server's keepalive and read timeout both look each tick. */
  get partial(): boolean {
    return this.arrival !== undefined && this.arrival.midMessage();
  }

  get midMessage(): boolean {
    const arrival = this.arrival;
    if (arrival === undefined || !arrival.midMessage()) {
      // The next message's count starts afresh: one that reaches this one's is no stall.
      this.readAtLastLook = -1;
      return false;
    }
    // Stalled, not merely unfinished: a WebSocket message holds many whole frames (a batch of
    // up to maxBatchBytes), which the server's read timeout, meant for one frame, must not time
    // on a slow link. Bytes of the message since the last look are progress (the server looks
    // once a tick, and its clock starts again); a dribbler that makes it is ChunkGuard's. Control
    // frames are not: a peer pinging with its message half sent is stalled all the same.
    const read = arrival.messageBytes();
    const stalled = read === this.readAtLastLook;
    this.readAtLastLook = read;
    return stalled;
  }

  /** The upgrade is done: `w`, over `wire`, carries the connection from now on (what was written before goes first). */
  attach(w: WebSocket, wire: Duplex): void {
    if (this.dropped) return void w.terminate();
    // First: its listeners must see each read and control frame before the others'.
    const arrival = arrivalOf(w, wire);
    listenTo(w, wire, arrival, this.conn, this.options);
    if (this.pending !== undefined) chargePending(w, wire, arrival, this.conn, this.pending);
    this.arrival = arrival;
    this.ws = w;
    this.wire = wire;
    this.beneath = TlsReadStop.of(wire);
    // What the server kept to close it before its upgrade is not needed any more: let it go.
    this.drop = NOTHING;
    if (this.pausedEarly) this.pauseWs(w);
    const waiting = this.early;
    this.early = undefined;
    this.earlyBytes = 0;
    if (waiting) for (const m of waiting) this.send(m);
  }

  private hold(chunks: Uint8Array[]): void {
    if (this.dropped) return;
    // The batcher may reuse its array; the bytes are the connection's to send.
    (this.early ??= []).push(chunks.slice());
    for (const c of chunks) this.earlyBytes += c.length;
  }

  private dropEarly(): void {
    this.dropped = true;
    this.early = undefined;
    this.drop();
  }

  private pauseWs(w: WebSocket): void {
    w.pause();
    // ws pauses no socket it has closed (nor one still connecting): neither has reads to stop.
    if (w.isPaused) this.beneath?.stop();
  }
}

/** MessageConn's end marker: the one empty message (the batcher never sends an empty one). */
function isEndMarker(chunks: Uint8Array[]): boolean {
  return chunks.length === 1 && chunks[0]!.length === 0;
}

/** Hands what `w` receives over `wire` to `conn`, and its end. */
function listenTo(w: WebSocket, wire: Duplex, arrival: MessageArrival, conn: MessageConn, options: MessageConnOptions): void {
  let error: Error | undefined;
  const guard = new ChunkGuard(wire, conn);
  // One listener per event: EventEmitter copies its list on each emit of an event with several.
  w.on('message', (data, isBinary) => (guard.reset(), conn.receive(bytesOf(data), isBinary)));
  // A control frame between the fragments of a message ends nothing ws holds of the message.
  const control = (): void => void (arrival.betweenFragments() || guard.reset());
  w.on('ping', answersPingsUnbounded(w) ? (data: Buffer) => (control(), conn.answeredPing(pongBytes(data))) : control);
  w.on('pong', control);
  w.on('error', (err) => {
    error ??= err;
    // The peer broke the protocol (a message over maxPayload, too many fragments): ws has sent
    // its close frame and reads no more. The failure is the connection's now, and the peer has
    // `lingerMs` to answer, not ws's 30 s, holding the message it broke off all along.
    conn.ended(closeCodeOf(err, CloseCode.Abnormal), wsErrorReason(err, options.maxWsMessageBytes), err);
    dropAfterLinger(w, options.lingerMs);
  });
  w.on('close', (code, reason) => conn.ended(error ? closeCodeOf(error, code) : code, reason.toString(), error));
}

/**
 * Whether `w` answers every ping however many answers wait unwritten: a ws without the npm
 * package's `maxPendingAutoPongs` (8.23), such as Bun's own, which Bun puts in the package's
 * place. A peer that pinged it and never read was never dropped (Bun only stopped queueing its
 * answers past 16 MiB): there the conn counts them, as it does uWS's (MessageConn.answeredPing).
 */
function answersPingsUnbounded(w: WebSocket): boolean {
  return !('_maxPendingAutoPongs' in w);
}

/** The bytes of a server's answer to a ping of `data`: its payload and an unmasked header (2 bytes up to 125). */
const pongBytes = (data: Buffer): number => data.length + 2;

/**
 * Charges what `w` holds of the message under way to the listener's budget after each read
 * (listened to after ws's own 'data' listener, which has made what it could of the read into
 * frames and messages by then), and gives it back when the connection is gone. A read that would
 * take the budget over drops this connection alone.
 */
function chargePending(w: WebSocket, wire: Duplex, arrival: MessageArrival, conn: MessageConn, pending: PendingMessages): void {
  let charged = 0;
  const read = (): void => {
    const now = arrival.heldBytes();
    if (now === charged) return;
    try {
      pending.recharge(charged, now);
      charged = now;
    } catch (err) {
      // Given back now, not at the close: another connection's next read must not find it still held.
      gone();
      conn.abort(err as Error);
    }
  };
  const gone = (): void => {
    pending.recharge(charged, 0);
    charged = 0;
    wire.off('data', read);
  };
  wire.on('data', read);
  wire.once('close', gone);
  w.once('close', gone);
}

/** Drops `ws` unless its closing handshake is done within `lingerMs`. */
function dropAfterLinger(ws: WebSocket, lingerMs: number): void {
  ws.once('close', lingerThen(lingerMs, () => ws.terminate()));
}

/**
 * A message as a plain Uint8Array view of ws's buffer: what handlers take out of it must not be
 * Buffers, whose `slice` shares memory.
 */
function bytesOf(data: RawData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return plainBytes(Array.isArray(data) ? Buffer.concat(data) : data);
}

/** ws reports a protocol violation by the peer as an error with a `WS_ERR_*` code before closing. */
function closeCodeOf(err: Error, code: number): number {
  const wsCode = (err as { code?: unknown }).code;
  if (wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || wsCode === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') return CloseCode.TooBig;
  if (wsCode === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return CloseCode.PolicyViolation;
  if (wsCode === 'WS_ERR_INVALID_UTF8') return CloseCode.BadFrame;
  // Any other WS_ERR_ is a malformed WebSocket frame; an error without one, a failed write.
  return typeof wsCode === 'string' && wsCode.startsWith('WS_ERR_') ? CloseCode.ProtocolError : code;
}
