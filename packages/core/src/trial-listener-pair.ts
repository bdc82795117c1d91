import { ErrorCode } from './error-code.js';
import type { RpcError } from './rpc-error.js';
import type { ResolvedTls } from './tls.js';

/**
 * Runtime.loadConnectTls for a runtime whose TLS library loads a certificate and key only as a
 * listener does (Bun's BoringSSL, Deno's rustls): `s`'s client pair given to `tryListening`, which
 * loads it on a loopback port of its own and closes it at once, as a listener's reload loads its
 * pair, so that a key that is not the certificate's is the same InvalidArgument. Any other failure
 * (a port the system or a permission will not give) leaves the pair to the next connect, which
 * loads it too: the client asked for no listener.
 */
export function loadPairOnTrialListener(s: ResolvedTls, tryListening: (pair: { cert: string; key: string }) => void): void {
  if (s.cert === undefined || s.key === undefined) return;
  try {
    tryListening({ cert: s.cert, key: s.key });
  } catch (err) {
    if ((err as RpcError | undefined)?.code === ErrorCode.InvalidArgument) throw err;
  }
}
