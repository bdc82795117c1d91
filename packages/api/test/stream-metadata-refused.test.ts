import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { clientStream, createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

/*
 * Found by helper 275: a unary call refuses metadata that is no record (plain JS: null, a
 * string) with InvalidArgument; a stream's open did not: null failed with a bare TypeError, and
 * a string's characters went to the handler as entries ({ 0: 'x', 1: 'y' }). A stream is refused
 * as a unary call is now, unopened.
 */

const cleanup = cleanups();

const Feed = service('Feed', { unary: method<number, number>(), watch: serverStream<number, number>(), upload: clientStream<number, number>() });

describe('metadata that is no record, on a stream', () => {
  it('is refused before the stream opens, as on a unary call, naming the method', async () => {
    const ran: string[] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Feed, {
          unary: (n) => (ran.push('unary'), n),
          async *watch(n) {
            ran.push('watch');
            yield n;
          },
          async upload(xs) {
            ran.push('upload');
            for await (const _ of xs);
            return 0;
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    const feed = createClient(Feed, s.stream, { codec: msgpackCodec });
    const refused = (action: string) => ({ code: ErrorCode.InvalidArgument, message: `${action}: metadata must be an object of strings` });
    // A revoked Proxy cannot even be asked whether it is an array (that TypeError escaped the check).
    const revoked = Proxy.revocable({ k: 'v' }, {});
    revoked.revoke();
    for (const metadata of [null, 'xy', ['x'], revoked.proxy] as never[]) {
      await expect(feed.unary(1, { metadata })).rejects.toMatchObject(refused('Feed.unary'));
      await expect(feed.watch(1, { metadata })).rejects.toMatchObject(refused('Feed.watch'));
      await expect(feed.upload([1], { metadata })).rejects.toMatchObject(refused('Feed.upload'));
    }
    expect(ran).toEqual([]);
  });
});
