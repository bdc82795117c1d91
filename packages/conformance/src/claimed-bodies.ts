import { formatAddress, type Address, type FrameConn, type FrameSpec, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, protocol, responseFrameSpec } from '@skein/stream';

/** Connections that each claim a body at the server's limits and send 1 KiB of it. */
const CLAIMS = 4;
const SENT = 1024;
/** Each claims a message and a blob at the kit server's limits (its defaults): within them, so the server waits for the rest. */
const CLAIMED = DEFAULT_LIMITS.maxMessage + DEFAULT_LIMITS.maxBlob;
/** How long the server's memory is watched once the claims are written; a reservation made at the header shows at once. */
const WATCH_MS = 250;

/** Responses as a client reads them; what it sends is taken as header-only frames, whatever they say. */
const spec: FrameSpec = { ...responseFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: protocol.REQUEST_HEADER_LENGTH, bodyLength: () => 0 } };

/**
 * What the transport's server side did wrong with bodies that were claimed and not sent, in
 * words; [] when nothing. CLAIMS connections (made by the transport's `connect`) each send a
 * request header claiming a body at the server's limits (16 MiB of message, 64 MiB of blob: not
 * past them, so the server waits for the rest) and 1 KiB of it. Memory must grow with the bytes
 * received, never the bytes claimed: the process's ArrayBuffer memory (`process.memoryUsage()
 * .arrayBuffers`, what buffers hold, allocated or not yet touched; the server runs in this
 * process) must not grow by half of what was claimed while WATCH_MS pass. A transport that
 * allocates a frame's buffer at its header would let a peer that sends little hold a server's
 * memory. (A claim past the limits is the rejected-header check's: refused at the header.)
 */
export async function claimedBodyProblems(transport: Transport, address: Address, boundMs: number): Promise<string[]> {
  const conns: FrameConn[] = [];
  try {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < CLAIMS; i++) conns.push(await claim(transport, address, boundMs, i + 1));
    let most = 0;
    const until = Date.now() + WATCH_MS;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      most = Math.max(most, process.memoryUsage().arrayBuffers - before);
    }
    const claimed = CLAIMS * CLAIMED;
    if (most < claimed / 2) return [];
    return [
      `${CLAIMS} connections to ${formatAddress(address)} each claimed a ${mib(CLAIMED)} body (within the server's limits) and sent ${SENT} bytes of it; ` +
        `the process's ArrayBuffer memory grew by ${mib(most)} (${mib(claimed)} claimed): allocate a frame's body as its bytes arrive, never at its header (memory grows with bytes received, never bytes claimed)`,
    ];
  } finally {
    for (const c of conns) c.close();
  }
}

/** A connection that sent a request header claiming CLAIMED bytes of body, then SENT bytes of it. */
async function claim(transport: Transport, address: Address, boundMs: number, seq: number): Promise<FrameConn> {
  const conn = await transport.connect(address, spec, { timeoutMs: boundMs });
  conn.bind({ frame: () => {}, drain: () => {}, close: () => {} });
  const header = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(header, 1, 0, seq, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob);
  conn.write(header);
  conn.write(new Uint8Array(SENT).fill(0x61));
  conn.flush();
  return conn;
}

const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;
