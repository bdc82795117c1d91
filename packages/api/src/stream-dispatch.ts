import { ErrorCode, type Codec } from '@skein/core';
import type { RequestStream, ServerRequest } from '@skein/stream';
import type { CallContext } from './context.js';
import type { AnyMethod, StreamKind } from './define.js';
import { whenAborted } from './when-aborted.js';
import { calledAsUnary, openedAsOtherStream, openedWithArgument, unknownStreamKind } from './call-shape.js';
import { STREAM_KIND_KEY, isStreamKind, sentStreamKind } from './stream-kind-entry.js';
import { StreamSource } from './stream-source.js';
import { fromBytes, toBytes, type ValueRules } from './value-bytes.js';

/** A streaming method's server side, made once per method: how its values come in and go out. */
export interface StreamServe {
  readonly kind: NonNullable<AnyMethod['stream']>;
  /** What the client sends: a server stream's argument, else each item. */
  readonly in: ValueRules;
  /** What the handler gives: each item, or a client stream's result. */
  readonly out: ValueRules;
}

export function streamServe(m: AnyMethod, action: string, codec: Codec): StreamServe {
  const blob = m.blobs === true;
  return {
    kind: m.stream!,
    in: { codec, blob, schema: m.input, where: `${action}: invalid argument`, code: ErrorCode.InvalidArgument },
    out: { codec, blob, schema: m.output, where: `${action}: invalid result`, code: ErrorCode.Internal },
  };
}

/**
 * What the handler is called with: a server stream's argument (decoded and checked before any
 * filter or handler sees it), else the client's values as an async iterable, each checked as it
 * is read. Throws (or rejects) when a stream reached a method that is not one, or, as its
 * client's stub says, was opened as another kind of stream.
 */
export function streamArg(req: ServerRequest, s: StreamServe): unknown {
  const stream = req.stream;
  if (!stream) throw calledAsUnary(String(req.action), s.kind);
  checkSentKind(req, s.kind);
  if (s.kind !== 'server') {
    // A client's stub opens these with nothing: an argument says the client took it for a server
    // stream, which would send no item and wait, as the handler would, for ever.
    if (req.msg.length !== 0 || req.blob.length !== 0) throw openedWithArgument(String(req.action), s.kind);
    return values(stream, s.in);
  }
  // Its argument is all a server stream takes: items a client sends anyway are dropped, not held.
  stream.ignoreItems();
  return fromBytes(s.in, req.msg, req.blob);
}

/**
 * The kind the client's stub opened the stream as, when it says (stream-kind-entry.ts), checked
 * against the method's: a skew the wire shows nothing of (a stream that opens with nothing) would
 * otherwise wait for items never sent, or run its handler with nothing. Without the entry (an
 * older client, a raw open) only what the wire shows is checked.
 */
function checkSentKind(req: ServerRequest, kind: StreamKind): void {
  const sent = sentStreamKind(req.metadata);
  if (sent === undefined || sent === kind) return;
  throw isStreamKind(sent) ? openedAsOtherStream(String(req.action), kind, sent) : unknownStreamKind(String(req.action), STREAM_KIND_KEY, sent);
}

/**
 * Runs one call of a streaming method: the values the handler yields (a server stream, or both
 * ways) go out one by one, each once the client has room. The call is answered when the
 * handler is done: with its result (client stream) or empty. A cancel or a deadline fails the
 * next write, which ends the handler's generator (its `finally` runs). Rejects with what failed
 * the call, for the dispatch to answer (filters see it first).
 */
export async function serveStream(
  req: ServerRequest,
  s: StreamServe,
  arg: unknown,
  handler: (arg: unknown, ctx: CallContext) => unknown,
  ctx: CallContext,
): Promise<void> {
  const out = await handler(arg, ctx);
  if (s.kind === 'client') {
    const last = await toBytes(s.out, out);
    return void req.reply(last.msg, last.blob);
  }
  const source = new StreamSource(out as AsyncIterable<unknown>);
  // Asked for before the watch, as `for await` would: a generator's body starts and sees its own
  // signal, aborted or not (stopping a generator not started skips its body, finally and all).
  const first = source.next();
  // Nobody waits any more (the client broke off, cancelled or passed its deadline; the stream
  // timeout answered it) while the source waits: stopped now, not at a next value that may never come.
  const unwatch = whenAborted(undefined, ctx, () => void source.stop());
  try {
    for (let r = await first; r.done !== true; r = await source.next()) {
      try {
        // Bytes made at once (no asynchronous schema) are not awaited: an item costs no turn of its own for them.
        const bytes = toBytes(s.out, r.value);
        const item = bytes instanceof Promise ? await bytes : bytes;
        await req.stream!.write(item.msg, item.blob);
      } catch (e) {
        await source.stop(); // as a `break` on a throw stops it
        throw e;
      }
    }
  } finally {
    unwatch();
  }
  req.reply();
}

async function* values(stream: RequestStream, rules: ValueRules): AsyncGenerator<unknown> {
  // An async generator's yield awaits its operand already (a rejection throws here as well): no second await.
  for await (const item of stream) yield fromBytes(rules, item.msg, item.blob);
}
