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
  /** `congested` was read true and no `drain()` followed yet. */
  awaitingDrain: boolean;
}

/** A transport whose connections, on both sides, are watched for the lifecycle the stream layer relies on. */
export interface ConnWatch {
  readonly transport: Transport;
  /** What is wrong with the connections now, in words, for a scenario that did not finish. */
  stuck(): string[];
  /** Connections whose close was reported other than once (none, or twice), in words; [] when all reported exactly once. */
  unclosed(): string[];
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
  const watched = (conn: FrameConn, side: ConnRecord['side']): FrameConn => {
    const r: ConnRecord = { side, remote: '', ended: false, closed: false, peerEnded: false, seesPeerEnd: false, closeReports: 0, awaitingDrain: false };
    records.push(r);
    const handlersOf = (h: FrameHandlers): FrameHandlers => {
      const watchedHandlers: FrameHandlers = {
        frame: (bytes, start, end) => h.frame(bytes, start, end),
        drain: () => ((r.awaitingDrain = false), h.drain()),
        close: (err) => (r.closeReports++, h.close(err)),
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
    listen: (address, spec, accept) => inner.listen(address, spec, (conn) => accept(watched(conn, 'server'))),
    ...(inner.reloadTls && { reloadTls: (tls) => inner.reloadTls!(tls) }),
  };
  const count = (what: string, pick: (r: ConnRecord) => boolean): string[] => {
    const n = records.filter(pick).length;
    return n === 0 ? [] : [`${n} connection(s) ${what}`];
  };
  return {
    transport,
    stuck: () => [
      ...count('ended by this side (end()) and the peer (its end reported) never reported close(): once both sides have ended, the transport closes the connection and reports close()', (r) => r.ended && r.peerEnded && r.closeReports === 0),
      ...count("ended by this side (end()), the peer's end unseen (no end handler given: the transport's default ends this side at it), never reported close(): once the peer has ended too, the transport closes the connection and reports close()", (r) => r.ended && !r.seesPeerEnd && r.closeReports === 0),
      ...count('were closed by the stream layer (close()) and never reported close() to their handlers', (r) => r.closed && r.closeReports === 0),
      ...count('reported close() more than once: report it exactly once', (r) => r.closeReports > 1),
      ...count('were read as congested and never called drain(): once back under the mark, call drain(), also when a flush hands everything on at once and no drain event follows', (r) => r.awaitingDrain && r.closeReports === 0),
    ],
    unclosed: () =>
      records
        .filter((r) => r.closeReports !== 1)
        .map((r) => {
          const done = [r.ended && 'end() called', r.peerEnded && "the peer's end reported", r.closed && 'close() called'].filter(Boolean).join(', ') || 'nothing called';
          return `a ${r.side} connection (${r.remote || 'unnamed'}) reported close() ${r.closeReports} times (${done})`;
        }),
  };
}
