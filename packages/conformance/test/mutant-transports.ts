import { EventEmitter } from 'node:events';
import net from 'node:net';
import { ErrorCode, RpcError, type Address, type FrameConn, type FrameHandlers, type FrameListener, type FrameSpec, type Transport } from '@skein/core';
import { copiedSpec, detachedBodyLength, specHandling } from '@skein/test-utils';

/**
 * Deliberately broken transports, each a real transport with one fault: the conformance
 * scenarios must tell them from a right one. A wrapper changes only what its fault needs.
 */
export interface Faults {
  /** The server's connections never report `congested`: a transport with no back-pressure. */
  blindToCongestion?: boolean;
  /** The client's `pause()` does nothing: the connection goes on reading, and delivering, what arrives. */
  ignoresPause?: boolean;
  /** The server's connections drop reverse calls (flags 0x18, 0x1A, 0x1B): a writer that cuts what it sends into frames and passes on only the flags it knows. */
  dropsReverseCalls?: boolean;
  /** The client's writes made while it is congested are dropped: a writer that sheds load instead of queueing. */
  dropsWritesWhenCongested?: boolean;
  /** The client's frames are handed on from one scratch buffer, written over by the next frame: a reader that reuses what it handed out. */
  reusesReceiveBuffer?: boolean;
  /** The client's connections never report their close to the stream layer. */
  neverReportsClose?: boolean;
  /** The client's connections report their close twice. */
  reportsCloseTwice?: boolean;
  /** The client's connections add a listener per write to an emitter of their own, and never remove it. */
  leaksListener?: boolean;
  /** The client's connect never sees its signal: it dials, and resolves, whatever the signal says. */
  ignoresConnectSignal?: boolean;
  /** The client's connect, given a signal aborted already, rejects with Cancelled whatever its reason (a timeout one too). */
  cancelsOnTimeoutSignal?: boolean;
  /** The client's connections report `receivedBytes` 0 for ever: a count never made. */
  receivedBytesStuck?: boolean;
  /** The client's connections report `sentBytes` 0 for ever: a count never made. */
  sentBytesStuck?: boolean;
  /** The client's `end()` closes the connection outright (what is queued dropped, nothing more read) instead of half-closing. */
  endCloses?: boolean;
  /** The server's connections report every close with an error, a clean one too. */
  reportsCleanCloseWithError?: boolean;
  /** The server's connections take a header their spec rejects as the start of a 1 GiB frame and wait for its body: a reader that does not refuse it. */
  waitsForRejectedBody?: boolean;
  /** The server's reader allocates a frame's whole buffer at its header, before the body arrives: memory held for bytes only claimed. */
  reservesClaimedBody?: boolean;
  /** The server's listener hands each connection on 400 ms after it is accepted: what a loaded machine does to a reader. */
  acceptsLate?: boolean;
  /** The server's connections give no `receivedBytes`, `midFrame` nor `receiving`: a transport that cannot tell what arrived (no mutant alone; with another fault, its check's fallback). */
  serverCountsNothing?: boolean;
  /** The client's connect drops its `timeoutMs`: a handshake nobody answers waits out the 10 s default. */
  ignoresConnectTimeout?: boolean;
  /** The client's connect opens a socket of its own to the address first, and leaves it open when the connect fails. */
  leaksFailedConnect?: boolean;
  /** The client's connect hands a malformed address to the socket API as it is: an empty host dials localhost, a port out of range throws the API's RangeError. */
  uncheckedAddress?: boolean;
  /** The client's connect drops the address's scheme: it dials one written for another transport (ws://, tcp://) as its own. */
  dialsAnyScheme?: boolean;
  /** Every spec it is handed (both sides, setFrameSpec's, their outbound) has its `bodyLength` called detached: `const f = spec.bodyLength; f(bytes, at)`. */
  detachesBodyLength?: boolean;
  /** Every spec it is handed is copied (`{ ...spec }`) and read through the copy: allowed, no fault (a right transport for the spec-call check). */
  copiesSpec?: boolean;
  /** The server's listener and connections declare a `maxFrameBytes` one byte over what they carry. */
  overstatesMaxFrame?: boolean;
  /** The server's listener declares a `maxFrameBytes` twice its connections'. */
  listenerMaxFrameDiffers?: boolean;
  /** The client's `setPeerMaxFrameBytes` is there and does nothing: its messages are packed up to its own batch size. */
  ignoresPeerMaxFrame?: boolean;
  /** The server's listener stops accepting at `close()`, and the promise it returns never resolves: a close that waits for something that never comes. */
  listenerCloseHangs?: boolean;
  /** The client's `pause()` stops delivery and holds what arrives, but reads on: a ByteConn over a stream of its own that never stops reading the stream beneath. */
  pauseReadsOn?: boolean;
  /** The client's connections give no `receivedBytes`: a transport that cannot tell what arrived (no mutant alone; with another fault, the backpressure verdict's count-free path). */
  clientCountsNothing?: boolean;
  /** The client's `close()` reports the close to its own handlers and leaves the socket beneath open: the server never learns of it. */
  clientCloseStaysLocal?: boolean;
  /** The server's connections' `close()` reports the close to their own handlers and leaves the socket beneath open: the client never learns of it. */
  serverCloseStaysLocal?: boolean;
}

/**
 * Response flags of calls from the server to the side that connected (docs/protocol.md, "Calls
 * both ways"): a reverse call, a timed reverse call (what a Skein server sends a client that
 * offers reverse deadlines) and a reverse cancel. Not server pings (0x19): those are no calls.
 */
const REVERSE_FLAGS: ReadonlySet<number> = new Set([0x18, 0x1a, 0x1b]);

export function mutantTransport(inner: Transport, faults: Faults): Transport {
  if (faults.detachesBodyLength) inner = specHandling(inner, detachedBodyLength);
  if (faults.copiesSpec) inner = specHandling(inner, copiedSpec);
  return {
    name: inner.name,
    connect: async (address, spec, options) => {
      const { signal: _signal, ...unsignalled } = options ?? {};
      const { timeoutMs: _timeoutMs, ...untimed } = options ?? {};
      if (faults.uncheckedAddress) address = unchecked(address);
      if (faults.dialsAnyScheme && 'host' in address) address = { host: address.host, port: address.port, ...(address.tls && { tls: true }) };
      if (faults.cancelsOnTimeoutSignal && options?.signal?.aborted) throw new RpcError(ErrorCode.Cancelled, 'connect aborted');
      const side = faults.leaksFailedConnect ? sideSocket(address) : undefined;
      let conn = await inner.connect(address, spec, faults.ignoresConnectSignal ? unsignalled : faults.ignoresConnectTimeout ? untimed : options);
      side?.destroy();
      if (faults.ignoresPause) conn = override(conn, { pause: () => {}, resume: () => {} });
      if (faults.pauseReadsOn) conn = holdingWhilePaused(conn);
      if (faults.clientCountsNothing) conn = override(conn, { receivedBytes: undefined });
      if (faults.clientCloseStaysLocal) conn = closingLocally(conn);
      if (faults.dropsWritesWhenCongested) conn = droppingWhenCongested(conn);
      if (faults.reusesReceiveBuffer) conn = reusingReceiveBuffer(conn);
      if (faults.neverReportsClose) conn = reportingClose(conn, 0);
      if (faults.reportsCloseTwice) conn = reportingClose(conn, 2);
      if (faults.leaksListener) conn = leakingListener(conn);
      if (faults.endCloses) conn = override(conn, { end: () => conn.close() });
      if (faults.receivedBytesStuck) conn = override(conn, { receivedBytes: 0 });
      if (faults.sentBytesStuck) conn = override(conn, { sentBytes: 0 });
      if (faults.ignoresPeerMaxFrame) conn = override(conn, { setPeerMaxFrameBytes: () => {} });
      return conn;
    },
    listen: async (address, spec, accept) => closingAsFaulted(declaringMaxFrame(await inner.listen(address, serverSpec(spec), (conn) => {
        let c = faults.waitsForRejectedBody || faults.reservesClaimedBody ? override(conn, { setFrameSpec: (next: FrameSpec) => conn.setFrameSpec?.(serverSpec(next)) }) : conn;
        if (faults.reservesClaimedBody) c = releasingReservations(c);
        if (faults.serverCountsNothing) c = override(c, { receivedBytes: undefined, midFrame: undefined, receiving: undefined });
        if (faults.blindToCongestion) c = override(c, { congested: false });
        if (faults.reportsCleanCloseWithError) c = reportingCloseWithError(c);
        if (faults.dropsReverseCalls) c = droppingReverseCalls(c, spec.outbound ?? spec);
        if (faults.serverCloseStaysLocal) c = closingLocally(c);
        if (faults.overstatesMaxFrame && conn.maxFrameBytes !== undefined) c = override(c, { maxFrameBytes: conn.maxFrameBytes + 1 });
        if (faults.acceptsLate) setTimeout(() => accept(c), LATE_MS);
        else accept(c);
      }))),
  };
  function declaringMaxFrame(l: FrameListener): FrameListener {
    if (l.maxFrameBytes === undefined) return l;
    const declared = faults.overstatesMaxFrame ? l.maxFrameBytes + 1 : faults.listenerMaxFrameDiffers ? l.maxFrameBytes * 2 : undefined;
    return declared === undefined ? l : { address: l.address, tls: l.tls, maxFrameBytes: declared, close: () => l.close() };
  }
  function closingAsFaulted(l: FrameListener): FrameListener {
    if (!faults.listenerCloseHangs) return l;
    return { address: l.address, tls: l.tls, maxFrameBytes: l.maxFrameBytes, close: () => l.close().then(() => new Promise<void>(() => {})) };
  }
  function serverSpec(spec: FrameSpec): FrameSpec {
    if (faults.waitsForRejectedBody) return waitingForBody(spec);
    if (faults.reservesClaimedBody) return reservingBody(spec);
    return spec;
  }
}

/** How late `acceptsLate` hands a connection on: past the 250 ms an earlier claimed-body check watched for. */
const LATE_MS = 400;

/** Buffers reserved at a header for a body to come (`reservesClaimedBody`), let go once a frame or a close comes. */
const reserved: Uint8Array[] = [];

/** `spec`, allocating each large frame's whole buffer as its header is read, as a reader that reads into it would. */
function reservingBody(spec: FrameSpec): FrameSpec {
  return {
    ...spec,
    bodyLength: (bytes, at) => {
      const n = spec.bodyLength(bytes, at);
      if (n > 1 << 20) reserved.push(new Uint8Array(spec.headerLength + n));
      return n;
    },
  };
}

function releasingReservations(conn: FrameConn): FrameConn {
  const release = (): void => void reserved.splice(0);
  const bind = (h: FrameHandlers): void => conn.bind({ ...h, frame: (b, s, e) => (release(), h.frame(b, s, e)), close: (err) => (release(), h.close(err)) });
  return override(conn, { bind });
}

/** A socket of the mutant's own to `address` (a probe it forgets when the connect fails). */
function sideSocket(address: Address): net.Socket {
  const s = 'path' in address ? net.connect(address.path) : net.connect(address.port, address.host);
  return s.on('error', () => {});
}

/** `address` as a socket API that checks nothing takes it: an empty host is localhost, a port out of range the API's RangeError. */
function unchecked(address: Address): Address {
  if (!('host' in address)) return address;
  const { port } = address;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new RangeError(`Port should be >= 0 and < 65536. Received ${port}.`);
  return address.host === '' ? { ...address, host: '127.0.0.1' } : address;
}

/** `conn` with some members replaced; the rest are its own, called on it. */
function override(conn: FrameConn, members: Partial<Record<keyof FrameConn, unknown>>): FrameConn {
  return new Proxy(conn, {
    get(target, prop) {
      if (Object.hasOwn(members, prop)) return members[prop as keyof FrameConn];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Gathers the parts written into whole frames (by `outbound`, the frames the server sends) and writes on all but reverse calls. */
function droppingReverseCalls(conn: FrameConn, outbound: FrameSpec): FrameConn {
  let pending = new Uint8Array(0);
  const write = (part: Uint8Array): void => {
    const joined = new Uint8Array(pending.length + part.length);
    joined.set(pending);
    joined.set(part, pending.length);
    let at = 0;
    while (joined.length - at >= outbound.headerLength) {
      const end = at + outbound.headerLength + outbound.bodyLength(joined, at);
      if (end > joined.length) break;
      if (!REVERSE_FLAGS.has(joined[at + 3]!)) conn.write(joined.slice(at, end));
      at = end;
    }
    pending = joined.slice(at);
  };
  return override(conn, { write });
}

/** Drops each part written while the connection is congested. */
function droppingWhenCongested(conn: FrameConn): FrameConn {
  return override(conn, { write: (part: Uint8Array) => void (conn.congested || conn.write(part)) });
}

/** Hands each frame on as a copy in one scratch buffer, which the next frame writes over. */
function reusingReceiveBuffer(conn: FrameConn): FrameConn {
  let scratch = new Uint8Array(64 << 10);
  const bind = (handlers: FrameHandlers): void =>
    conn.bind({
      ...handlers,
      frame: (bytes, start, end) => {
        if (end - start > scratch.length) scratch = new Uint8Array(end - start);
        scratch.set(bytes.subarray(start, end));
        handlers.frame(scratch, 0, end - start);
      },
    });
  return override(conn, { bind });
}

/** Reports each close to the stream layer `times` times (0: never), as a broken lifecycle would. */
function reportingClose(conn: FrameConn, times: number): FrameConn {
  const bind = (handlers: FrameHandlers): void =>
    conn.bind({
      ...handlers,
      close: (err) => {
        for (let i = 0; i < times; i++) handlers.close(err);
      },
    });
  return override(conn, { bind });
}

/** Reports each close with an error, as a transport that takes its socket's close for a failure would. */
function reportingCloseWithError(conn: FrameConn): FrameConn {
  const bind = (handlers: FrameHandlers): void => conn.bind({ ...handlers, close: (err) => handlers.close(err ?? new Error('socket closed')) });
  return override(conn, { bind });
}

/** Adds a 'drain' listener per write, as a writer that waits for its socket's drain each time and forgets it. */
function leakingListener(conn: FrameConn): FrameConn {
  const socket = new EventEmitter();
  return override(conn, {
    write: (part: Uint8Array) => {
      socket.on('drain', () => {});
      conn.write(part);
    },
  });
}

/** `spec`, with a header it rejects taken as the start of a 1 GiB frame instead. */
function waitingForBody(spec: FrameSpec): FrameSpec {
  return {
    ...spec,
    bodyLength: (bytes, at) => {
      try {
        return spec.bodyLength(bytes, at);
      } catch {
        return 1 << 30;
      }
    },
  };
}

/**
 * `pause()` that stops delivery and holds what arrives while the connection beneath reads on
 * (its `receivedBytes` grows); `resume()` delivers what was held after it returns, in order.
 */
function holdingWhilePaused(conn: FrameConn): FrameConn {
  const held: [Uint8Array, number, number][] = [];
  let paused = false;
  let handlers: FrameHandlers | undefined;
  const deliver = (): void => {
    while (!paused && held.length > 0) {
      const [bytes, start, end] = held.shift()!;
      handlers?.frame(bytes, start, end);
    }
  };
  const bind = (h: FrameHandlers): void => {
    handlers = h;
    conn.bind({
      ...h,
      // Frames stay valid once handed out (FrameHandlers.frame), so holding the place is enough.
      frame: (bytes, start, end) => (paused || held.length > 0 ? void held.push([bytes, start, end]) : h.frame(bytes, start, end)),
    });
  };
  return override(conn, {
    bind,
    pause: () => void (paused = true),
    resume: () => {
      paused = false;
      queueMicrotask(deliver);
    },
  });
}

/** Connections a `closingLocally` close left open; `closeLeftOpen()` closes them once a test is done. */
const leftOpen = new Set<FrameConn>();

/** Closes what `clientCloseStaysLocal` / `serverCloseStaysLocal` left open, so that no socket outlives its test. */
export function closeLeftOpen(): void {
  for (const conn of leftOpen) conn.close();
  leftOpen.clear();
}

/** `close()` that reports the close to this side's handlers, once, and never closes the socket beneath. */
function closingLocally(conn: FrameConn): FrameConn {
  let handlers: FrameHandlers | undefined;
  let reported = false;
  const report = (err?: Error): void => {
    if (reported) return;
    reported = true;
    handlers?.close(err);
  };
  const bind = (h: FrameHandlers): void => {
    handlers = h;
    conn.bind({ ...h, frame: (b, s, e) => void (reported || h.frame(b, s, e)), close: report });
  };
  return override(conn, {
    bind,
    close: () => {
      leftOpen.add(conn);
      report();
    },
  });
}
