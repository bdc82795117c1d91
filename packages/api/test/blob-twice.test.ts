import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, serverStream, service, withBlob } from '../src/index.js';
import { serve } from './harness.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

/** `.blob()` declared twice: a flag set again, so each value carries one blob, as its types say (blob-types.test-d.ts). */
const Twice = service('Twice', {
  put: method<{ name: string }, { size: number }>().blob().blob(),
  read: serverStream<{ n: number }, { i: number }>().blob().idempotent().blob(),
});

describe('.blob() twice', () => {
  it('sends and gives each value with its one blob, beside it', async () => {
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Twice, {
          put: ({ value, blob }) => withBlob({ size: value.name.length + blob.length }, blob.slice().reverse()),
          async *read({ value }) {
            for (let i = 0; i < value.n; i++) yield withBlob({ i }, new Uint8Array([i, i]));
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    const twice = createClient(Twice, s.stream, { codec: msgpackCodec });
    const put = await twice.put(withBlob({ name: 'ab' }, new Uint8Array([1, 2, 3])));
    expect({ value: put.value, blob: [...put.blob] }).toEqual({ value: { size: 5 }, blob: [3, 2, 1] });
    const items: unknown[] = [];
    for await (const { value, blob } of await twice.read(withBlob({ n: 2 }))) items.push({ value, blob: [...blob] });
    expect(items).toEqual([
      { value: { i: 0 }, blob: [0, 0] },
      { value: { i: 1 }, blob: [1, 1] },
    ]);
  });
});
