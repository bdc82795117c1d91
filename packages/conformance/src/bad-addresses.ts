import { ErrorCode, RpcError, type Address, type FrameConn, type Transport } from '@skein/core';
import { ClientStream, DEFAULT_LIMITS, responseFrameSpec } from '@skein/stream';
import { otherTransportAddressProblems, type OwnScheme } from './other-transport-addresses.js';

/** A malformed address as a Transport takes it (an object), or as a user writes it (a string). */
interface Bad {
  readonly what: string;
  readonly address: Address | string;
}

/**
 * The malformed addresses, shaped like `at` (its TLS flag and URL path kept, so that a wss://
 * or tls:// transport is asked its own way). The empty host carries `at`'s real port: a
 * transport that hands '' to its socket API (Node dials localhost) connects there, and says so.
 */
function badAddresses(at: Address): readonly Bad[] {
  const extra = { ...(at.tls && { tls: true }), ...('urlPath' in at && at.urlPath !== undefined && { urlPath: at.urlPath }) };
  const port = 'port' in at ? at.port : 1;
  const host = 'host' in at ? at.host : '127.0.0.1';
  const hostPort = (p: number): Address => ({ host, port: p, ...extra });
  return [
    { what: 'an empty host', address: { host: '', port, ...extra } },
    { what: 'port 65536', address: hostPort(65536) },
    { what: 'port -1', address: hostPort(-1) },
    { what: 'port 1.5', address: hostPort(1.5) },
    { what: 'port NaN', address: hostPort(Number.NaN) },
    { what: 'an empty Unix socket path', address: { path: '', ...(at.tls && { tls: true }) } },
    // As a user writes them: ClientStream.connect reads the string (core's parseAddress).
    { what: 'an unknown scheme', address: `ftp://${host}:${port}` },
    { what: 'no port', address: host },
    { what: 'a port out of range', address: `${host}:70000` },
    { what: 'an empty host before the port', address: `:${port}` },
    { what: 'an empty string', address: '' },
  ];
}

/** A connect's outcome: what it settled as, and whether it threw before returning its promise. */
type Outcome = { sync: boolean; conn?: FrameConn | ClientStream; error?: unknown };

/**
 * What `transport.connect` (and `ClientStream.connect` on it) did wrong with malformed
 * addresses, in words; [] when each was refused right. The contract (docs/transports.md, "The
 * connection lifecycle"): a bad address rejects with RpcError(InvalidArgument), dialling nothing
 * — not the socket API's RangeError or TypeError, not Unreachable (a retry elsewhere would never
 * help), and never a throw before `connect` returns its promise. Nor may it dial an address
 * written for another transport (other-transport-addresses.ts; `own`: the transport's own scheme, where told). Each must settle within
 * `boundMs`; a connection any of them made is closed here.
 */
export async function badAddressProblems(transport: Transport, at: Address, boundMs: number, own?: OwnScheme): Promise<string[]> {
  const spec = responseFrameSpec(DEFAULT_LIMITS);
  const problems: string[] = [];
  for (const bad of badAddresses(at)) {
    const shown = typeof bad.address === 'string' ? JSON.stringify(bad.address) : describe(bad.address);
    const o = await outcome(() =>
      typeof bad.address === 'string'
        ? ClientStream.connect({ transport, address: bad.address, connectTimeoutMs: boundMs })
        : transport.connect(bad.address, spec, { timeoutMs: boundMs }),
    );
    const verdict = judge(o);
    if (verdict) problems.push(`${typeof bad.address === 'string' ? 'ClientStream.connect' : 'connect'}(${shown}), ${bad.what}, ${verdict}: reject with RpcError(InvalidArgument) (core's parseAddress(address) checks an Address object too), dialling nothing`);
  }
  return [...problems, ...(await otherTransportAddressProblems(transport, at, boundMs, own))];
}

async function outcome(connect: () => Promise<FrameConn | ClientStream>): Promise<Outcome> {
  let pending: Promise<FrameConn | ClientStream>;
  try {
    pending = connect();
  } catch (error) {
    return { sync: true, error };
  }
  try {
    const conn = await pending;
    if (conn instanceof ClientStream) conn.destroy();
    else conn.close();
    return { sync: false, conn };
  } catch (error) {
    return { sync: false, error };
  }
}

/** What was wrong with an outcome, or undefined when it was the rejection the contract asks for. */
function judge(o: Outcome): string | undefined {
  if (o.conn) return 'resolved with a connection';
  const e = o.error;
  const right = e instanceof RpcError && e.code === ErrorCode.InvalidArgument;
  if (right && !o.sync) return undefined;
  const seen = e instanceof RpcError ? `RpcError(${e.codeName}): ${e.message}` : e instanceof Error ? `${e.name}: ${e.message} (not an RpcError)` : String(e);
  return o.sync ? `threw ${seen} before returning its promise` : `rejected with ${seen}`;
}

/** An Address object as written (JSON drops NaN). */
const describe = (a: Address): string =>
  `{ ${Object.entries(a)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join(', ')} }`;
