import { describe, expect, it, onTestFinished } from 'vitest';
import { hex, outcome, sameOutcome, seededRandom, show, type Random } from '@skein/test-utils';
import { msgpack, type MsgpackOptions } from '../src/index.js';
import { CACHED_KEYS, mutate, randomMessage } from './handoff-msgpack.js';
import { DECODED_BYTES, referenceCodec } from './reference-codec.js';

/**
 * The codec against the library alone (the reference), on messages where the fast path hands
 * values to the library mid-message (src/library-values.ts) and reads on: extensions, number
 * and odd keys, nesting past its 32 levels, at random depths, then damaged copies of them
 * (cut short, bytes changed, extension headers and huge claims put in). Value or error must be
 * the library's, under tight limits too, and in every kind of view a caller may pass.
 */

const OPTIONS: MsgpackOptions[] = [
  {},
  { maxDepth: 3 },
  { maxDepth: 34 },
  { maxContainers: 12 },
  { maxMapKeys: 6 },
  { maxDepth: 8, maxContainers: 30, maxMapKeys: 10, extensionTypes: { set: 1, map: 0 } },
];
const MESSAGES = 2000;
const MUTATIONS = 12;

/** The same message in the views a caller may pass: its own buffer, inside a larger one, shared memory, one reused Uint8Array resized to fit. */
function inView(random: Random, message: number[], reused: Uint8Array & { buffer: ArrayBuffer & { resize(n: number): void } }): Uint8Array {
  // Shared memory costs much more to allocate than the decodes: one message in 16.
  const where = Math.floor(random() * 16);
  if (where >= 3) return Uint8Array.from(message);
  if (where === 1) {
    const bytes = new Uint8Array(new ArrayBuffer(message.length + 16), 7, message.length);
    bytes.set(message);
    return bytes;
  }
  if (where === 0) {
    const bytes = new Uint8Array(new SharedArrayBuffer(message.length));
    bytes.set(message);
    return bytes;
  }
  // where === 2
  reused.buffer.resize(message.length);
  reused.set(message);
  return reused;
}

describe.each(OPTIONS)('msgpack hand-off to the library, options %j', (options) => {
  it(`reads ${MESSAGES} random messages and ${MESSAGES * MUTATIONS} damaged copies as the library does, errors included`, () => {
    const random = seededRandom(0x4a4d + JSON.stringify(options).length);
    const codec = msgpack(options);
    const reference = referenceCodec(options);
    const reused = new Uint8Array(new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(0, { maxByteLength: 1 << 16 })) as Parameters<typeof inView>[2];
    // Every key of 16 bytes or less the messages hold, now in the key cache: see KEY_POOL.
    msgpack().decode(CACHED_KEYS); // the one key cache of the process
    let refused = 0;
    let read = 0;
    // Most damaged copies are refused, with an error or two each: stack traces cost more than the decodes.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    onTestFinished(() => {
      Error.stackTraceLimit = stackTraceLimit;
    });
    for (let m = 0; m < MESSAGES; m++) {
      const message = randomMessage(random, 45);
      for (let k = 0; k <= MUTATIONS; k++) {
        const bytes = inView(random, k === 0 ? message : mutate(random, message), reused);
        // A damaged key may be new to the key cache: whichever read it first would count it and
        // the other not (maxContainers counts no cached key). Read once first, both find it.
        if (options.maxContainers !== undefined) outcome(() => reference.decode(bytes));
        const [got, expected] = [outcome(() => codec.decode(bytes)), outcome(() => reference.decode(bytes))];
        if (!sameOutcome(got, expected, DECODED_BYTES)) expect.fail(`message ${m}.${k} ${hex(bytes).slice(0, 2000)}: ${show(got)} vs ${show(expected)}`);
        if ('error' in got) refused++;
        else read++;
      }
    }
    // Both outcomes, plenty of each.
    expect(Math.min(refused, read)).toBeGreaterThan(MESSAGES);
  });
});
