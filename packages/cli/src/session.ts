import { ErrorCode, RpcError, invalidArgument, type Codec } from '@skein/core';
import { CALLED_AS_UNARY, createClient, method, service, type ServiceDef } from '@skein/api';
import { ClientStream } from '@skein/stream';
import type { Target } from './target.js';

/** One method of a server, called the way a typed client calls it: no service definition needed. */
export type RemoteMethod = (arg: unknown, opts?: { timeoutMs?: number }) => Promise<unknown>;

/**
 * Splits `Service.method` at its LAST dot, as a server's dispatch reads an action (api's
 * `createServiceDispatch`, stream's `dispatchByService`): a method name never has a dot, a
 * service's may (Skein's own, `skein.health.Health`). Both are checked with @skein/api's own
 * rule, each dot-separated part of the service as one name (the wire action is exactly this
 * text, so a name the API could not declare cannot exist on a Skein server).
 */
export function parseMethod(text: string): { service: string; method: string } {
  const dot = text.lastIndexOf('.');
  const notOne = (why: string): RpcError => invalidArgument(`${JSON.stringify(text)} is not Service.method: ${why}`);
  if (dot < 0) throw notOne('no dot between the service and the method');
  if (dot === 0) throw notOne('no service name before the dot');
  if (dot === text.length - 1) throw notOne('no method name after the last dot');
  const names = { service: text.slice(0, dot), method: text.slice(dot + 1) };
  try {
    checkNames(names.service, names.method);
  } catch (err) {
    throw notOne((err as Error).message);
  }
  return names;
}

/**
 * Throws `service()`'s own InvalidArgument for a name it refuses: each part of the service, then
 * the method (beside the last part, which passed). An undotted service reads as it always did.
 */
function checkNames(serviceName: string, methodName: string): void {
  const parts = serviceName.split('.');
  for (const part of parts) {
    try {
      service(part, {});
    } catch (err) {
      if (parts.length === 1) throw err;
      throw invalidArgument(`part ${JSON.stringify(part)} of service name ${JSON.stringify(serviceName)}: ${(err as Error).message}`);
    }
  }
  service(parts[parts.length - 1]!, { [methodName]: method() });
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

/**
 * `Service.method` over `stream`: @skein/api's client, so errors read as they do in an application.
 * The definition is made as api's `Health` is, without `service()`, which refuses a dotted name
 * (so that no application's service takes one): `parseMethod` has checked every part of it.
 */
export function remoteMethod(stream: ClientStream, text: string, codec: Codec): RemoteMethod {
  const names = parseMethod(text);
  const def: ServiceDef = Object.freeze({ name: names.service, methods: Object.freeze({ [names.method]: method<unknown, unknown>() }) });
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
 * The server answered something Skein on this connection: its hello's answer (an older Skein or
 * a razor v1 server answers it with an error, which counts: it spoke the protocol). A connection
 * lost after that is a server that crashed or cut it, not a wrong address form.
 */
export function serverSpoke(stream: ClientStream): boolean {
  return stream.dialect !== 'pending';
}

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
 * A plain call of a streaming method: @skein/api's dispatch refuses it with InvalidArgument
 * saying so (`CALLED_AS_UNARY`), an older one with a bare Version (its reason logged on the
 * server, not sent). `call` and `bench` make unary calls only: that is said, and where a
 * health watch is read; to an older server's Version, as the likeliest reason.
 *
 * Recognized by its words: a built-in error carries only its code and its words on the wire
 * (docs/protocol.md, Errors), and a place for more would be a wire change. The words are the ones
 * @skein/api exports and pins, which every server since the refusal came sends, so one match
 * serves this version's servers and the older ones alike.
 */
export function withStreamHint(err: unknown): unknown {
  if (!(err instanceof RpcError)) return err;
  const shape = err.code === ErrorCode.InvalidArgument && err.message.includes(CALLED_AS_UNARY);
  if (!shape && err.code !== ErrorCode.Version) return err;
  const hint = `${shape ? '' : ' is it a streaming method?'} call and bench make unary calls only (skein health --watch reads the health service's watch)`;
  return new RpcError(err.code, `${err.message} —${hint}`, {
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
