import { formatAddress, type Address, type FrameConn, type FrameSpec, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, protocol, responseFrameSpec } from '@skein/stream';
import { arrayBuffersSettled } from './array-buffers-settled.js';
import type { AcceptLog } from './conn-watch.js';

/** Connections that each claim a body at the server's limits and send 1 KiB of it. */
const CLAIMS = 4;
const SENT = 1024;
/** What of a claim the server's connection has received once it has read it all: the header and SENT bytes. */
const CLAIM_BYTES = protocol.REQUEST_HEADER_LENGTH + SENT;
/** Each claims a message and a blob at the kit server's limits (its defaults): within them, so the server waits for the rest. */
const CLAIMED = DEFAULT_LIMITS.maxMessage + DEFAULT_LIMITS.maxBlob;
/**
 * Growth over the settled baseline that fails: 32 MiB, a tenth of the 320 MiB claimed, far past
 * what 4 KiB sent and four connections' socket buffers take (under 1 MiB on TCP, ws and HTTP/2),
 * and far under what a reader that reserves the claims holds (80 MiB a connection; the message
 * part alone, 16 MiB a connection, is 64 MiB).
 */
const MARGIN = 32 << 20;
/**
 * Where the server's connections give no `receivedBytes` and neither `midFrame` nor `receiving`
 * shows a frame held (no event says the claims were read): how long they are given to read them,
 * the connections still open. A loaded machine that has not read them by then passes a reserving
 * reader: the README says so.
 */
const SETTLE_MS = 250;
/** How often the server's connections are looked at while they read the claims. */
const POLL_MS = 5;

/** Responses as a client reads them; what it sends is taken as header-only frames, whatever they say. */
const spec: FrameSpec = { ...responseFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: protocol.REQUEST_HEADER_LENGTH, bodyLength: () => 0 } };

/** How the check knew the server had read the claims: its connections' counts, their close, a settle, or never. */
type Read = 'counted' | 'closed' | 'settled' | 'never';

/**
 * What the transport's server side did wrong with bodies that were claimed and not sent, in
 * words; [] when nothing. CLAIMS connections (made by the transport's `connect`) each send a
 * request header claiming a body at the server's limits (16 MiB of message, 64 MiB of blob: not
 * past them, so the server waits for the rest) and 1 KiB of it. Memory must grow with the bytes
 * received, never the bytes claimed: the process's ArrayBuffer memory (`process.memoryUsage()
 * .arrayBuffers`, what buffers hold, allocated or not yet touched; the server runs in this
 * process), taken after full collections before the claims and again once the server's
 * connections (those its listener accepted meanwhile, from `acceptsFrom`) have read them, the
 * connections still open, must not have grown by MARGIN: what a read reserved is still
 * referenced then, garbage made meanwhile by anything else in the process is not. That they read them is an event where the connections tell it (`receivedBytes` up
 * to the header and SENT bytes, else `midFrame` or `receiving` true), else SETTLE_MS with the
 * connections still open. A transport that allocates a frame's buffer at its header would let a
 * peer that sends little hold a server's memory. (A claim past the limits is the
 * rejected-header check's: refused at the header.)
 */
export async function claimedBodyProblems(transport: Transport, address: Address, boundMs: number, acceptsFrom: () => AcceptLog): Promise<string[]> {
  const conns: FrameConn[] = [];
  const closed = { count: 0 };
  const accepted = acceptsFrom();
  const fresh = (): readonly FrameConn[] => accepted.conns;
  try {
    const baseline = await arrayBuffersSettled();
    for (let i = 0; i < CLAIMS; i++) conns.push(await claim(transport, address, boundMs, i + 1, () => closed.count++));
    const read = await claimsRead(fresh, () => closed.count === CLAIMS, boundMs);
    if (read === 'never') {
      const n = fresh().length;
      return [
        `${CLAIMS} connections to ${formatAddress(address)} each sent a request header and ${SENT} bytes of its body; within ${boundMs} ms the server accepted ${n} connection(s) ` +
          `and ${fresh().filter(readClaim).length} of them showed its claim read (receivedBytes of ${CLAIM_BYTES} or more, or midFrame true); it closed ${closed.count} of the ${CLAIMS}: count each chunk in FrameConn.receivedBytes as it arrives, or leave it undefined where the transport cannot tell`,
      ];
    }
    // Measured after full collections too, the claiming connections still open: what their reads
    // reserved is still referenced, while garbage anything else in the process made meanwhile is not.
    const held = (await arrayBuffersSettled()) - baseline;
    if (held < MARGIN) return [];
    return [
      `${CLAIMS} connections to ${formatAddress(address)} each claimed a ${mib(CLAIMED)} body (within the server's limits) and sent ${SENT} bytes of it; ` +
        `once the server had read them (${HOW[read]}), the process's ArrayBuffer memory held ${mib(held)} more than before them, both after full collections, the connections open (${mib(CLAIMS * CLAIMED)} claimed, ${mib(MARGIN)} allowed): ` +
        'allocate a frame\'s body as its bytes arrive, never at its header (memory grows with bytes received, never bytes claimed)',
    ];
  } finally {
    accepted.stop();
    for (const c of conns) c.close();
  }
}

const HOW: Record<Exclude<Read, 'never'>, string> = {
  counted: `its connections' receivedBytes counted each claim's header and ${SENT} bytes, or midFrame said part of a frame was held`,
  closed: 'it closed every claiming connection',
  settled: `its connections give no receivedBytes, nor midFrame showing a frame held: ${SETTLE_MS} ms with them open`,
};

/**
 * Waits until the server's new connections have read CLAIMS claims (an event: their
 * counts, or midFrame), or every claiming connection was closed by it (it read and refused them),
 * or, where none of its connections counts what it received, SETTLE_MS have passed; 'never' at
 * `boundMs`.
 */
async function claimsRead(fresh: () => readonly FrameConn[], allClosed: () => boolean, boundMs: number): Promise<Read> {
  const start = Date.now();
  for (;;) {
    const conns = fresh();
    if (conns.filter(readClaim).length >= CLAIMS) return 'counted';
    if (allClosed()) return 'closed';
    const uncounted = conns.length >= CLAIMS && conns.every((c) => received(c) === undefined);
    if (uncounted && Date.now() - start >= SETTLE_MS) return 'settled';
    if (Date.now() - start >= boundMs) return 'never';
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The connection shows a claim read: its header and SENT bytes counted, or (no count) part of a frame held. */
function readClaim(c: FrameConn): boolean {
  const n = received(c);
  if (n !== undefined) return n >= CLAIM_BYTES;
  try {
    return c.midFrame === true || c.receiving === true;
  } catch {
    return false;
  }
}

/** The connection's `receivedBytes`; undefined where it gives none (a getter that throws gives none: the byte-count check names it). */
function received(c: FrameConn): number | undefined {
  try {
    return c.receivedBytes;
  } catch {
    return undefined;
  }
}

/** A connection that sent a request header claiming CLAIMED bytes of body, then SENT bytes of it; `closed` when it reports its close. */
async function claim(transport: Transport, address: Address, boundMs: number, seq: number, closed: () => void): Promise<FrameConn> {
  const conn = await transport.connect(address, spec, { timeoutMs: boundMs });
  conn.bind({ frame: () => {}, drain: () => {}, close: () => closed() });
  const header = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(header, 1, 0, seq, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob);
  conn.write(header);
  conn.write(new Uint8Array(SENT).fill(0x61));
  conn.flush();
  return conn;
}

const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;
