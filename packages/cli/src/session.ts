import { ErrorCode, RpcError, invalidArgument, type Codec } from '@skein/core';
import { createClient, method, service } from '@skein/api';
import { ClientStream } from '@skein/stream';
import type { Target } from './target.js';

/** One method of a server, called the way a typed client calls it: no service definition needed. */
export type RemoteMethod = (arg: unknown, opts?: { timeoutMs?: number }) => Promise<unknown>;

/**
 * Splits `Service.method` and checks both names with @skein/api's own rule (the wire action is
 * exactly this text, so a name the API could not declare cannot exist on a Skein server).
 */
export function parseMethod(text: string): { service: string; method: string } {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) throw invalidArgument(`${JSON.stringify(text)} is not Service.method`);
  const names = { service: text.slice(0, dot), method: text.slice(dot + 1) };
  try {
    service(names.service, { [names.method]: method() });
  } catch (err) {
    throw invalidArgument(`${JSON.stringify(text)} is not Service.method: ${(err as Error).message}`);
  }
  return names;
}

/** The argument's JSON text as a value; none sends no argument (the unit value). */
export function parseArgument(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch (err) {
    throw invalidArgument(`the argument is not JSON (${(err as Error).message}): quote it for the shell, e.g. '{"a":1}'`);
  }
}

/**
 * Connects one stream, with room for `window` calls in flight. No keepalive by default:
 * `--timeout` alone decides when a silent server is given up on (the keepalive's 5 s would cut
 * a longer `--timeout` short); `timeoutMs` is also how long `ping()` waits for its pong, and how
 * long `close()` waits for the server to close its side once the command is done.
 * `keepaliveMs`: for a command with no end of its own (`health --watch`), which no deadline
 * bounds, a ping after that long with nothing heard, unanswered within `timeoutMs`, gives the
 * server up: a link gone silent ends the command rather than leaving it waiting for ever.
 */
export function connect(target: Target, timeoutMs: number, window = 128, keepaliveMs = 0): Promise<ClientStream> {
  return ClientStream.connect({
    transport: target.transport,
    address: target.address,
    connectTimeoutMs: timeoutMs,
    timeoutMs,
    window,
    keepaliveMs,
    keepaliveTimeoutMs: timeoutMs,
  });
}

/** `Service.method` over `stream`: @skein/api's client, so errors read as they do in an application. */
export function remoteMethod(stream: ClientStream, text: string, codec: Codec): RemoteMethod {
  const names = parseMethod(text);
  const def = service(names.service, { [names.method]: method<unknown, unknown>() });
  return createClient(def, stream, { codec })[names.method]!;
}

/** What a server that answers nothing Skein can read may speak instead, by what was dialled. */
const OTHER_FORMS: Readonly<Record<Target['kind'], string>> = {
  tcp: 'ws (ws://host:port) or tls (tls://host:port)',
  unix: 'ws (ws+unix:/path) or tls (tls+unix:/path)',
  tls: 'plain tcp (host:port) or wss (wss://host:port)',
  ws: 'tcp (host:port) or wss (wss://host:port)',
  wss: 'tls (tls://host:port) or plain ws (ws://host:port)',
};

/**
 * A connection that fails before any answer usually means the peer speaks something else: a
 * WebSocket server dialled over TCP answers HTTP, which is no frame. Says so, once.
 */
export function withTransportHint(err: unknown, target: Target, answered: boolean): unknown {
  const refusal = tlsRefusal(err);
  if (refusal) return refusal;
  if (answered || !(err instanceof RpcError) || (err.code !== ErrorCode.IO && err.code !== ErrorCode.Closed)) return err;
  const other = OTHER_FORMS[target.kind];
  return new RpcError(err.code, `${err.message} — no answer came back: is ${target.text} a Skein server over ${target.kind}? (if it speaks ${other}, use that address form)`, {
    cause: err,
    retry: err.retry,
  });
}

/**
 * The TLS layer's Unauthenticated under a lost connection: over TLS 1.3 a server refuses a
 * missing or untrusted client certificate after the client's handshake is done, so the stream
 * sees its connection lost. That refusal is the reason (and the address form was right), so it
 * is what the operator reads, not a guess at another transport.
 */
function tlsRefusal(err: unknown): RpcError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof RpcError && e.code === ErrorCode.Unauthenticated) return e;
  }
  return undefined;
}
