import { describe, expect, it } from 'vitest';
import { ChunkWriter, MAX_CHUNK_MESSAGE_BYTES } from '../src/index.js';

// A writer of the simplest format: a message is `count` bytes of `fill`, written one by one
// (after room for all of them when `reserve`, as a codec makes room for a string); `during` runs
// midway (a getter's re-entrant encode, or a throw).
interface Message {
  count: number;
  fill: number;
  reserve?: boolean;
  during?: () => void;
}

class FillWriter extends ChunkWriter {
  done = 0;

  protected writeMessage(message: unknown): boolean {
    const { count, fill, reserve, during } = message as Message;
    if (reserve && !this.room(count)) return false;
    for (let i = 0; i < count; i++) {
      if (!this.writeByte(fill)) return false;
      if (i === count >> 1) during?.();
    }
    return true;
  }

  protected override messageDone(): void {
    this.done++;
  }
}

describe('ChunkWriter: messages as views of shared chunks', () => {
  it('moves a message that passes its chunk end whole into a new chunk, and keeps the messages before it', () => {
    const writer = new FillWriter();
    const first = writer.encode({ count: 5000, fill: 1 })!;
    const second = writer.encode({ count: 5000, fill: 2 })!; // passes the 8 KiB chunk's end
    expect(second.buffer).not.toBe(first.buffer);
    expect(second.byteOffset).toBe(0);
    const third = writer.encode({ count: 3, fill: 3 })!;
    expect(third.buffer).toBe(second.buffer);
    expect(third.byteOffset).toBe(5000);
    expect([first, second, third].map((m) => [m.length, new Set(m).size, m[0]])).toEqual([[5000, 1, 1], [5000, 1, 2], [3, 1, 3]]);
  });

  it(`writes a message of ${MAX_CHUNK_MESSAGE_BYTES} bytes and gives up on one byte more, leaving nothing of it`, () => {
    const writer = new FillWriter();
    expect(writer.encode({ count: MAX_CHUNK_MESSAGE_BYTES, fill: 6, reserve: true })!.length).toBe(MAX_CHUNK_MESSAGE_BYTES);
    expect(writer.encode({ count: MAX_CHUNK_MESSAGE_BYTES, fill: 7 })!.length).toBe(MAX_CHUNK_MESSAGE_BYTES);
    const before = writer.encode({ count: 2, fill: 8 })!;
    expect(writer.encode({ count: MAX_CHUNK_MESSAGE_BYTES + 1, fill: 9 })).toBeNull();
    const after = writer.encode({ count: 2, fill: 10 })!;
    // Given up in the chunk it had moved to: the next message starts that chunk.
    expect(after.byteOffset).toBe(0);
    expect([...before, ...after]).toEqual([8, 8, 10, 10]);
  });

  it('gives a re-entrant encode null, and after a message that threw runs messageDone and writes the next where it would have', () => {
    const writer = new FillWriter();
    let inner: Uint8Array | null | undefined;
    const outer = writer.encode({ count: 4, fill: 1, during: () => (inner = writer.encode({ count: 1, fill: 2 })) })!;
    expect(inner).toBeNull();
    expect([...outer]).toEqual([1, 1, 1, 1]);
    expect(() => writer.encode({ count: 4, fill: 3, during: () => { throw new Error('getter'); } })).toThrow('getter');
    expect(writer.done).toBe(2); // not for the re-entrant encode, which began nothing
    const next = writer.encode({ count: 1, fill: 4 })!;
    expect(next.byteOffset).toBe(outer.byteOffset + 4);
    expect([...next]).toEqual([4]);
  });
});
