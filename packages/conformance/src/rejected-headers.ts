import { RpcError, formatAddress, type Address, type FrameSpec, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, protocol, responseFrameSpec } from '@skein/stream';

/** A request header the server's frame spec rejects, and the error its reply must carry. */
interface Rejected {
  readonly what: string;
  readonly header: Uint8Array;
  readonly code: string;
}

const header = (msgLength: number, mangle: (h: Uint8Array) => void = () => {}): Uint8Array => {
  const h = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(h, 1, 0, 1, msgLength, 0);
  mangle(h);
  return h;
};

const REJECTED: readonly Rejected[] = [
  // Past any limit a server can have (the wire's own ceiling): a transport that waits for the body,
  // or allocates it, instead of refusing the header, holds memory a peer only claimed.
  { what: 'a request header claiming a 4 GiB message, past the server\'s limit', header: header(0xffff_ffff), code: 'FrameTooLarge' },
  { what: 'a request header of version 9', header: header(0, (h) => (h[2] = 9)), code: 'Version' },
];

/**
 * What the transport's server side did wrong with a frame header its spec rejects, in words; []
 * when nothing. Each header is sent alone on a connection of its own, all at once, made by the
 * transport's `connect` (its outbound spec takes it as a whole frame): the server's connection
 * must send the FrameError's `lastWords` (the protocol's error reply, read here for its code),
 * then close, so this side sees the reply and then its close, within `boundMs`. A header the
 * transport skips, or whose body it waits for, leaves the connection open; a close without the
 * reply leaves the peer not knowing why.
 */
export async function rejectedHeaderProblems(transport: Transport, address: Address, boundMs: number): Promise<string[]> {
  // At once, each on its connection: a transport that never refuses one holds each for `boundMs`.
  return (await Promise.all(REJECTED.map((r) => rejects(transport, address, r, boundMs)))).flat();
}

/** Responses as a client reads them; what it sends is taken as header-only frames, whatever they say. */
const spec: FrameSpec = { ...responseFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: protocol.REQUEST_HEADER_LENGTH, bodyLength: () => 0 } };

async function rejects(transport: Transport, address: Address, r: Rejected, boundMs: number): Promise<string[]> {
  const where = `${r.what}, sent to ${formatAddress(address)}`;
  const conn = await transport.connect(address, spec, { timeoutMs: boundMs });
  const replies: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), boundMs);
    conn.bind({ frame: (b, start, end) => void replies.push(b.slice(start, end)), drain: () => {}, close: () => resolve(true) });
  });
  conn.write(r.header);
  conn.flush();
  const wasClosed = await closed;
  clearTimeout(timer);
  conn.close();
  const fix = "a header the spec rejects (frameBodyLength throws) closes that connection with the error, its FrameError's lastWords sent first (docs/transports.md, 'Errors')";
  if (!wasClosed) return [`${where}: the connection was still open ${boundMs} ms later (${replies.length} replies): ${fix}`];
  const code = replyCode(replies[0]);
  if (code === r.code) return [];
  return [`${where}: the connection closed, ${replies.length === 0 ? 'with no reply before it' : `its reply carrying ${code} instead of ${r.code}`}: ${fix}`];
}

/** The error code of a reply frame (an error string's), or what it was instead. */
function replyCode(reply: Uint8Array | undefined): string {
  if (reply === undefined) return 'nothing';
  const h = protocol.readResponseHeader(reply.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
  const body = reply.subarray(protocol.RESPONSE_HEADER_LENGTH, protocol.RESPONSE_HEADER_LENGTH + h.blobLength);
  const err = protocol.readErrorBytes(body);
  return err instanceof RpcError ? err.codeName : `a frame of flag ${h.flag}`;
}
