import { connectFailed, looksLikeTls, type RpcError } from '@skein/core';

/** What the `ws` client fails an upgrade with: Node's HTTP parser's error carries the bytes it could not read. */
type UpgradeError = Error & { code?: string; rawPacket?: Uint8Array };

/**
 * A WebSocket upgrade that failed before any HTTP answer, with the likely cause where the way it
 * failed names one: a server that closed the connection without answering the request (a Skein
 * server over TCP reads it as a malformed frame and closes so; a wss server, reading it as a
 * broken TLS handshake, closes so; a server at its connection limit closes before reading it), or one that answered with no HTTP at all (a TLS alert, a banner, an echo). Unreachable, as every connect that failed: the server saw no call.
 */
export function upgradeFailed(url: string, err: UpgradeError): RpcError {
  return connectFailed(url, `${err.message}${hintFor(err)}`, err);
}

function hintFor(err: UpgradeError): string {
  if (err.code === 'ECONNRESET' && err.message === 'socket hang up') {
    // A wss server does too: it reads the request as a broken TLS handshake and closes, sending no alert (Node's, Bun's).
    return ' (the server closed the connection without answering the WebSocket upgrade: a wss server does so to a plain ws client (dial wss://host:port, or give the transport tls options), a Skein server over TCP does so (dial it with @skein/transport-tcp), and so does one at its connection limit)';
  }
  if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
    // A wss server that answers the request with a TLS alert (Deno's) is no mystery: it is one.
    if (err.rawPacket !== undefined && looksLikeTls(err.rawPacket)) return ' (the server answered in TLS: it is a wss server (dial wss://host:port, or give the transport tls options))';
    return ' (the server answered with no HTTP: is it a Skein server over TCP (dial it with @skein/transport-tcp), or no WebSocket server at all?)';
  }
  return '';
}
