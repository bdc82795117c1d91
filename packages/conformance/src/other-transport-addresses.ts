import { ErrorCode, RpcError, type Address, type AddressScheme, type FrameConn, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, responseFrameSpec } from '@skein/stream';

/** An address written for the TCP transport or for a WebSocket one, at the same host and port. */
interface Written {
  /** The transport it names. */
  readonly kind: AddressScheme;
  readonly scheme: string;
  readonly address: Address;
}

/**
 * `tcp://` and `ws://` (`wss://` on a TLS address) at `at`'s host and port, where its server
 * listens: each names a transport (core's AddressScheme), so at most one is this transport's own.
 * `tcp://` carries no TLS (`tls://` names none); a transport given it that dials its own protocol
 * may come up there, or fail, but never refuse it.
 */
function writtenForEach(at: Address): readonly [Written, Written] {
  const port = 'port' in at ? at.port : 1;
  const host = 'host' in at ? at.host : '127.0.0.1';
  return [
    { kind: 'tcp', scheme: 'tcp://', address: { host, port, scheme: 'tcp' } },
    { kind: 'ws', scheme: at.tls ? 'wss://' : 'ws://', address: { host, port, scheme: 'ws', ...(at.tls && { tls: true }) } },
  ];
}

/**
 * The scheme that names the transport under test (core's AddressScheme: `'tcp'`, `'ws'`), or
 * `'none'` for a transport neither names (in-process, MessagePorts, a protocol of its own): every
 * address written for the others must be refused. Left out, the kit does not know which kind the
 * transport is, and asks only that one of `tcp://` and `ws://` be refused.
 */
export type OwnScheme = AddressScheme | 'none';

/**
 * What `transport.connect` did wrong with addresses written for another transport, in words; []
 * when it refused them. The contract (docs/transports.md, "The connection lifecycle"): an address
 * whose scheme names another transport rejects with RpcError(InvalidArgument), dialling nothing
 * (core's `addressFor(kind, address, who)`). Told the transport's own scheme (`own`), the kit
 * requires each other one refused; not told, it gives both, at its server's host and port, and
 * requires one refused: a transport that refuses neither dials another's address as its own (a
 * ws:// one as plain TCP, a tcp:// one as a WebSocket). A connection made is closed here; each
 * connect is bounded by `boundMs`.
 */
export async function otherTransportAddressProblems(transport: Transport, at: Address, boundMs: number, own?: OwnScheme): Promise<string[]> {
  const spec = responseFrameSpec(DEFAULT_LIMITS);
  const connect = (address: Address) => refusal(() => transport.connect(address, spec, { timeoutMs: boundMs }));
  if (own !== undefined) return othersRefused(writtenForEach(at).filter((w) => w.kind !== own), connect, own);
  const seen: string[] = [];
  for (const { scheme, address } of writtenForEach(at)) {
    const verdict = await connect(address);
    if (verdict === undefined) return [];
    seen.push(`${scheme} ${verdict}`);
  }
  return [
    `connect() of addresses written for each transport (Address.scheme 'tcp' and 'ws'), at the server's host and port, refused neither (${seen.join('; ')}): ` +
      "one names another transport: reject it with RpcError(InvalidArgument) (core's addressFor(kind, address, who)), dialling nothing",
  ];
}

/** Each of `others` (addresses written for a transport other than `own`) refused, in words. */
async function othersRefused(others: readonly Written[], connect: (address: Address) => Promise<string | undefined>, own: OwnScheme): Promise<string[]> {
  const problems: string[] = [];
  for (const { scheme, address } of others) {
    const verdict = await connect(address);
    if (verdict === undefined) continue;
    problems.push(
      `connect() of a ${scheme} address, written for another transport (this one's own scheme: ${own === 'none' ? 'none' : `${own}://`}), at the server's host and port, ${verdict}: ` +
        (own === 'none'
          ? 'a transport of neither kind refuses any address with a scheme, with RpcError(InvalidArgument), dialling nothing'
          : "reject it with RpcError(InvalidArgument) (core's addressFor(kind, address, who)), dialling nothing"),
    );
  }
  return problems;
}

/** Undefined when the connect rejected with RpcError(InvalidArgument); else what it did instead. */
async function refusal(connect: () => Promise<FrameConn>): Promise<string | undefined> {
  let pending: Promise<FrameConn>;
  try {
    pending = connect();
  } catch (error) {
    return `threw ${shown(error)} before returning its promise`;
  }
  try {
    (await pending).close();
    return 'resolved with a connection';
  } catch (error) {
    return error instanceof RpcError && error.code === ErrorCode.InvalidArgument ? undefined : `rejected with ${shown(error)}`;
  }
}

const shown = (e: unknown): string => (e instanceof RpcError ? `RpcError(${e.codeName}): ${e.message}` : e instanceof Error ? `${e.name}: ${e.message} (not an RpcError)` : String(e));
