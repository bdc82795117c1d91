import { cbor } from '@skein/codec-cbor';
import { msgpack } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type Codec } from '@skein/core';
import { ClientStream } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, service } from '../src/index.js';
import { serve, transport } from './harness.js';
import { cleanups } from '@skein/test-utils';

// A message of nothing but empty containers, as large as a frame may be, against a real server
// over TCP: the codec refuses it (maxContainers) with a Decode error, as any undecodable argument,
// and the server answers it and goes on serving. Before, one such msgpack message blocked the
// server 29 s and left 1 GB of heap; four at once ran it out of memory.

const Calc = service('Calc', { add: method<{ a: number; b: number }, number>() });
const calc = implement(Calc, { add: ({ a, b }) => a + b });

/** Just under the default frame limit (16 MiB), room left for the frame's other fields. */
const SIZE = (16 << 20) - 4096;

/** An array 32 of empty containers filling SIZE bytes: `head` is the array 32 header byte, `empty` an empty map's. */
function emptyContainers(head: number, empty: number): Uint8Array {
  const bytes = new Uint8Array(SIZE).fill(empty);
  const n = SIZE - 5;
  bytes.set([head, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  return bytes;
}

const cleanup = cleanups<() => Promise<void>>();

describe.each([
  ['msgpack', msgpack(), emptyContainers(0xdd, 0x80)],
  ['cbor', cbor(), emptyContainers(0x9a, 0xa0)],
] as [string, Codec, Uint8Array][])('%s server, a message of 16.7 million empty maps', (_, codec, hostile) => {
  it('fails that call with Decode and keeps serving the connection and others', async () => {
    const s = await serve({ codec, services: [calc], logger: silentLogger });
    cleanup.push(() => s.close());
    const client = createClient(Calc, s.stream, { codec });
    const other = await ClientStream.connect({ transport, address: s.address, tickMs: 100 });
    cleanup.push(async () => other.destroy());
    const otherClient = createClient(Calc, other, { codec });

    const refused = s.stream.call('Calc.add', hostile);
    // A call on another connection sent meanwhile is answered too.
    const meanwhile = otherClient.add({ a: 2, b: 3 });
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.Decode });
    expect(await meanwhile).toBe(5);
    // The connection that sent it is still served, as is the other.
    expect(await client.add({ a: 1, b: 2 })).toBe(3);
    expect(await otherClient.add({ a: 4, b: 5 })).toBe(9);
  });

  it('names the limit to a peer allowed to see internal errors', async () => {
    const s = await serve({ codec, services: [calc], logger: silentLogger, exposeInternalErrors: true });
    cleanup.push(() => s.close());
    await expect(s.stream.call('Calc.add', hostile)).rejects.toMatchObject({ code: ErrorCode.Decode, message: expect.stringContaining('maxContainers') });
    expect(await createClient(Calc, s.stream, { codec }).add({ a: 1, b: 2 })).toBe(3);
  });
});
