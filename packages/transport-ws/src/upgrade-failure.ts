import { connectFailed, type RpcError } from '@skein/core';

/**
 * A WebSocket upgrade that failed before any HTTP answer, with the likely cause where the way it
 * failed names one: a server that closed the connection without answering the request (a Skein
 * server over TCP reads it as a malformed frame and closes so; a server at its connection limit
 * closes before reading it), or one that answered with no HTTP at all (a banner, an echo). Unreachable, as every connect that failed: the server saw no call.
 */
export function upgradeFailed(url: string, err: Error & { code?: string }): RpcError {
  return connectFailed(url, `${err.message}${hintFor(err)}`, err);
}

function hintFor(err: Error & { code?: string }): string {
  if (err.code === 'ECONNRESET' && err.message === 'socket hang up') {
    return ' (the server closed the connection without answering the WebSocket upgrade: a Skein server over TCP does so (dial it with @skein/transport-tcp), and so does one at its connection limit)';
  }
  if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
    return ' (the server answered with no HTTP: is it a Skein server over TCP (dial it with @skein/transport-tcp), or no WebSocket server at all?)';
  }
  return '';
}
