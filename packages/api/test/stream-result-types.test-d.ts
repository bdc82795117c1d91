import { codeErrors, type RemoteError, type RpcError } from '@skein/core';
import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { bidiStream, clientStream, createClient, method, serverStream, service, type CallError, type ErrorOf, type OpenErrorOf, type Result } from '../src/index.js';

// A stream of results is given at once, before the server says anything: its declared error
// (even one its handler throws before the first item) ends the stream, thrown by its iterator,
// so `.result()` cannot resolve with it (stream-result-errors.test.ts shows it on a server).
class NotFound extends Error {
  override readonly name = 'NotFound';
}
type Event = { seq: number };

const Feed = service('Feed', {
  get: method<{ id: string }, Event>().throws(codeErrors({ 1: NotFound })),
  watch: serverStream<{ topic: string }, Event>().throws(codeErrors({ 1: NotFound })),
  upload: clientStream<Event, number>().throws(codeErrors({ 1: NotFound })),
  chat: bidiStream<Event, Event>().throws(codeErrors({ 1: NotFound })),
});
declare const caller: Caller;
const feed = createClient(Feed, caller, { codec: {} as never });

describe('.result() of a stream of results: what can come at its opening', () => {
  it('a server stream and a bidi stream resolve with no declared error', () => {
    expectTypeOf(feed.watch.result({ topic: 't' })).resolves.toEqualTypeOf<Result<AsyncIterable<Event>, never>>();
    expectTypeOf(feed.chat.result([])).resolves.toEqualTypeOf<Result<AsyncIterable<Event>, never>>();
    expectTypeOf<OpenErrorOf<typeof Feed.methods.watch>>().toBeNever();
  });

  it('its error is a refusal of the opening, never the declared one', async () => {
    const r = await feed.watch.result({ topic: 't' });
    if (!r.ok) expectTypeOf(r.error).toEqualTypeOf<RpcError | RemoteError>();
  });

  it('a unary call and a client stream, which wait for the answer, keep their declared error', () => {
    expectTypeOf(feed.get.result({ id: 'a' })).resolves.toEqualTypeOf<Result<Event, NotFound>>();
    expectTypeOf(feed.upload.result([])).resolves.toEqualTypeOf<Result<number, NotFound>>();
    expectTypeOf<OpenErrorOf<typeof Feed.methods.upload>>().toEqualTypeOf<NotFound>();
  });

  it('the declared error during reading is typed where it is caught', async () => {
    try {
      for await (const e of await feed.watch({ topic: 't' })) expectTypeOf(e).toEqualTypeOf<Event>();
    } catch (e) {
      const err = e as CallError<ErrorOf<typeof Feed.methods.watch>>;
      if (err instanceof NotFound) expectTypeOf(err).toEqualTypeOf<NotFound>();
    }
  });
});
