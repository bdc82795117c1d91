import { invalidArgument, isRuntime, refuseUnknownOptions, type Runtime, type TlsOptions } from '@skein/core';
import type { ByteStreamFramingOptions } from './byte-stream-framing.js';

/** tcpTransport's options: how its byte streams are framed (ByteStreamFramingOptions), and TLS. */
export interface TcpTransportOptions extends ByteStreamFramingOptions {
  /**
   * TLS for every connection this transport makes and accepts (a `tls://` address asks for TLS
   * too, with these options or, for a client, the runtime's default CAs). One shape on every
   * runtime and transport: see core's TlsOptions and docs/tls.md. `reloadTls` swaps the
   * certificate later.
   */
  tls?: TlsOptions | undefined;
}

/** Every knob of TcpTransportOptions, by name: what a plain-JS caller may pass (checked complete by the type). */
export const TCP_OPTION_NAMES = Object.keys({
  copyThreshold: true, batchFrames: true, batchBytes: true, slabSize: true, lingerMs: true, maxPendingFrameBytes: true, tls: true,
} satisfies Record<keyof TcpTransportOptions, true>);

/**
 * Refuses, with InvalidArgument, what tcpTransport cannot take: no Runtime first (`tcpTransport()`
 * failed on a field of undefined with a bare TypeError; options given first, as wsTransport takes
 * them, read as none), options that are no object, and an unknown option, in the words
 * wsTransport uses (core's refuseUnknownOptions): TypeScript flags each, plain JS got the defaults.
 */
export function checkTcpTransportArgs(runtime: unknown, options: unknown): asserts runtime is Runtime {
  if (!isRuntime(runtime)) {
    throw invalidArgument(`tcpTransport takes a Runtime first, got ${describe(runtime)}: tcpTransport(runtime, options?), the runtime from @skein/runtime (or @skein/runtime-node, -bun, -deno)`);
  }
  refuseUnknownOptions(options, TCP_OPTION_NAMES, 'tcpTransport');
}

const describe = (v: unknown): string => (v === undefined ? 'none' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object that is no Runtime' : typeof v);
