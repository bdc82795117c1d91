import type { FrameConn, FrameHandlers, Transport } from '@skein/core';

/** What the stream layer did to one connection, and what the connection reported back. */
interface ConnRecord {
  readonly side: 'client' | 'server';
  readonly remote: string;
  /** The stream layer called `end()` / `close()`. */
  ended: boolean;
  closed: boolean;
  /** The connection reported the peer's end, its close (how many times), a drain. */
  peerEnded: boolean;
  /** The stream layer gave an `end` handler, so the peer's end is seen (a ClientStream gives none: the transport then ends by itself). */
  seesPeerEnd: boolean;
  closeReports: number;
  /** The error the (first) close was reported with, if any. */
  closeErr: Error | undefined;
  /** `congested` was read true and no `drain()` followed yet. */
  awaitingDrain: boolean;
  /** Bytes of the whole frames the connection delivered so far. */
  framed: number;
  /** `receivedBytes` when last read (after frames), and the first way the byte counts were found wrong. */
  received: number;
  miscount: string | undefined;
  /** A check of the counts is queued for the end of this run of frames. */
  countsQueued: boolean;
}

/** Connections a listener accepted while the log was kept. */
export interface AcceptLog {
  readonly conns: readonly FrameConn[];
  stop(): void;
}

/** A transport whose connections, on both sides, are watched for the lifecycle the stream layer relies on. */
export interface ConnWatch {
  readonly transport: Transport;
  /**
   * The server's connections accepted from now on (as its listener accepted them, watched), until
   * `stop()`: a check reads the server's side of the connections it makes. Only while asked, so
   * that the suite's closed connections are not held to its end.
   */
  acceptsFrom(): AcceptLog;
  /** What is wrong with the connections now, in words, for a scenario that did not finish. */
  stuck(): string[];
  /** Connections whose close was reported other than once (none, or twice), in words; [] when all reported exactly once. */
  unclosed(): string[];
  /** Connections both sides ended (this side's end() called, the peer's end reported) whose close came with an error, in words; [] when none. */
  uncleanCloses(): string[];
  /** Connections whose `receivedBytes` or `sentBytes`, where given, were found wrong as frames arrived, in words; [] when none. */
  miscounted(): string[];
}

/**
 * `inner`, with each connection it makes or accepts watched: the calls the stream layer makes
 * (`end`, `close`, reading `congested`) and the reports the connection makes to it (`end`,
 * `close`, `drain`). A transport that never reports a close, reports one twice, or never calls
 * `drain()` after it was seen congested leaves the stream layer waiting: a scenario then hangs,
 * and these words say on what, instead of only that it timed out.
 */
export function watchConns(inner: Transport): ConnWatch {
  const records: ConnRecord[] = [];
  const acceptLogs = new Set<FrameConn[]>();
  const watched = (conn: FrameConn, side: ConnRecord['side']): FrameConn => {
    const r: ConnRecord = { side, remote: '', ended: false, closed: false, peerEnded: false, seesPeerEnd: false, closeReports: 0, closeErr: undefined, awaitingDrain: false, framed: 0, received: 0, miscount: undefined, countsQueued: false };
    records.push(r);
    const handlersOf = (h: FrameHandlers): FrameHandlers => {
      const watchedHandlers: FrameHandlers = {
        frame: (bytes, start, end) => (framed(conn, side, r, end - start), h.frame(bytes, start, end)),
        drain: () => ((r.awaitingDrain = false), h.drain()),
        close: (err) => (r.closeReports++ === 0 && (r.closeErr = err), h.close(err)),
        // Passed on where the stream layer gave one (a server's: it gives up a yield there).
        ...(h.overHeld === undefined ? {} : { overHeld: () => h.overHeld!() }),
      };
      // Only where the stream layer gave one: without it (a ClientStream's) the transport's own
      // default must end this side at the peer's end: a kit that ended it instead would hide a
      // transport that lacks the default (its client connections left half-open by a server's end).
      const end = h.end;
      if (end === undefined) return watchedHandlers;
      r.seesPeerEnd = true;
      return { ...watchedHandlers, end: () => ((r.peerEnded = true), end.call(h)) };
    };
    const endConn = (): void => ((r.ended = true), conn.end());
    const members: Record<string, unknown> = {
      bind: (h: FrameHandlers) => conn.bind(handlersOf(h)),
      end: endConn,
      close: () => ((r.closed = true), conn.close()),
    };
    return new Proxy(conn, {
      get(target, prop) {
        if (typeof prop === 'string' && Object.hasOwn(members, prop)) return members[prop];
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'congested' && value === true) r.awaitingDrain = true;
        if (prop === 'remote' && r.remote === '') (r as { remote: string }).remote = String(value);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  const transport: Transport = {
    name: inner.name,
    connect: async (address, spec, options) => watched(await inner.connect(address, spec, options), 'client'),
    listen: (address, spec, accept, options) =>
      inner.listen(
        address,
        spec,
        (conn) => {
          const w = watched(conn, 'server');
          for (const log of acceptLogs) log.push(w);
          accept(w);
        },
        options,
      ),
    ...(inner.reloadTls && { reloadTls: (tls) => inner.reloadTls!(tls) }),
    ...(inner.tlsGeneration && { tlsGeneration: () => inner.tlsGeneration!() }),
  };
  const count = (what: string, pick: (r: ConnRecord) => boolean): string[] => {
    const n = records.filter(pick).length;
    return n === 0 ? [] : [`${n} connection(s) ${what}`];
  };
  return {
    transport,
    acceptsFrom: () => {
      const conns: FrameConn[] = [];
      acceptLogs.add(conns);
      return { conns, stop: () => void acceptLogs.delete(conns) };
    },
    stuck: () => [
      ...count('ended by this side (end()) and the peer (its end reported) never reported close(): once both sides have ended, the transport closes the connection and reports close()', (r) => r.ended && r.peerEnded && r.closeReports === 0),
      ...count("ended by this side (end()), the peer's end unseen (no end handler given: the transport's default ends this side at it), never reported close(): once the peer has ended too, the transport closes the connection and reports close()", (r) => r.ended && !r.seesPeerEnd && r.closeReports === 0),
      ...count('were closed by the stream layer (close()) and never reported close() to their handlers', (r) => r.closed && r.closeReports === 0),
      ...count('reported close() more than once: report it exactly once', (r) => r.closeReports > 1),
      ...count('were read as congested and never called drain(): once back under the mark, call drain(), also when a flush hands everything on at once and no drain event follows', (r) => r.awaitingDrain && r.closeReports === 0),
    ],
    uncleanCloses: () =>
      records
        .filter((r) => r.ended && r.peerEnded && !r.closed && r.closeErr !== undefined)
        .map((r) => `a ${r.side} connection (${r.remote || 'unnamed'}) that both sides ended reported close(${String(r.closeErr)}): a clean close is close() with no argument`),
    miscounted: () => records.filter((r) => r.miscount !== undefined).map((r) => `a ${r.side} connection (${r.remote || 'unnamed'}): ${r.miscount}`),
    unclosed: () =>
      records
        .filter((r) => r.closeReports !== 1)
        .map((r) => {
          const done = [r.ended && 'end() called', r.peerEnded && "the peer's end reported", r.closed && 'close() called'].filter(Boolean).join(', ') || 'nothing called';
          return `a ${r.side} connection (${r.remote || 'unnamed'}) reported close() ${r.closeReports} times (${done})`;
        }),
  };
}

/**
 * The byte counts a connection gives (both optional), checked once a run of delivered frames is
 * over (a microtask later, so a transport that counts a chunk right after handing on its frames
 * is not faulted), the first wrong one kept: `receivedBytes` counts every byte that arrived, so
 * never less than the frames delivered, and only grows; a client's `sentBytes` has grown past 0
 * once an answer came (its request reached the server). A count stuck at 0 would have a server's
 * write-stall check end a slow but live reader, and a client's keepalive give up on a large
 * answer still arriving.
 */
function framed(conn: FrameConn, side: ConnRecord['side'], r: ConnRecord, frameBytes: number): void {
  r.framed += frameBytes;
  if (r.countsQueued || r.miscount !== undefined) return;
  r.countsQueued = true;
  queueMicrotask(() => {
    r.countsQueued = false;
    try {
      r.miscount = miscount(conn, side, r);
    } catch (err) {
      r.miscount = `reading its byte counts threw ${String(err)}: a getter of FrameConn reads, and never throws`;
    }
  });
}

function miscount(conn: FrameConn, side: ConnRecord['side'], r: ConnRecord): string | undefined {
  const received = conn.receivedBytes;
  if (received !== undefined) {
    if (received < r.received) return `receivedBytes went down, from ${r.received} to ${received}: it counts every byte received so far, and only grows`;
    if (received < r.framed) return `receivedBytes was ${received} after ${r.framed} bytes of whole frames were delivered: count each chunk as it arrives (FrameConn.receivedBytes), or leave it undefined where the transport cannot tell`;
    r.received = received;
  }
  const sent = side === 'client' ? conn.sentBytes : undefined;
  if (sent !== undefined && !(sent > 0)) {
    return `sentBytes was ${sent} when an answer arrived, so the kernel had taken the request: count what the kernel has taken so far (FrameConn.sentBytes; a Node socket's is core's nodeSocketSentBytes), or leave it undefined where the transport cannot tell`;
  }
  return undefined;
}
