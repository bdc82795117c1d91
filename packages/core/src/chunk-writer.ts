/**
 * Messages are written one after another into chunks of this size and handed out as views of
 * them, never written over: an ArrayBuffer per message costs ~30 ns on Node but ~300 ns on Deno.
 */
const CHUNK_BYTES = 8 * 1024;
/**
 * Messages longer than this are given up on (the codec's library then encodes them): RPC
 * arguments are small, and a chunk is kept for as long as any message handed out of it.
 */
export const MAX_CHUNK_MESSAGE_BYTES = 64 * 1024;

/**
 * What a codec's fast encoder writes its messages into: chunks shared by the messages written
 * one after another, each handed out as a view of its chunk and never written over, as cbor-x
 * and Node's pooled Buffers do. A Uint8Array with a backing store of its own per message costs
 * ~300 ns on Deno (~30 ns on Node), which made encoding there four times slower. A message kept
 * for long keeps its chunk alive; the views share an ArrayBuffer, so they are not to be
 * transferred.
 *
 * A subclass writes its format in `writeMessage` (bytes at `pos`, after `room`), returning false
 * to give up: `encode` then returns null and the codec's library encodes the value. Subclasses,
 * not callbacks, so that each codec's writing stays its own code, called directly.
 */
export abstract class ChunkWriter {
  protected bytes = new Uint8Array(CHUNK_BYTES);
  // `bytes.buffer` kept apart: Node 20 takes ~11 ns to read a typed array's buffer, a third of
  // what making the message's view costs.
  protected buffer: ArrayBuffer = this.bytes.buffer;
  protected view = new DataView(this.buffer);
  /** Where the message being written starts in `bytes`: what lies before it is handed out. */
  protected start = 0;
  protected pos = 0;
  // A getter in the value may encode with the same codec; that encode goes to the library.
  private busy = false;

  /** The value's bytes, or null. The caller may keep them: no later encode writes over them. */
  encode(value: unknown): Uint8Array | null {
    if (this.busy) return null;
    this.busy = true;
    try {
      this.pos = this.start;
      if (!this.writeMessage(value)) return null;
      const bytes = new Uint8Array(this.buffer, this.start, this.pos - this.start);
      this.start = this.pos;
      return bytes;
    } finally {
      this.busy = false;
      this.messageDone();
    }
  }

  /** Writes the whole value from `pos`; false to give it up. */
  protected abstract writeMessage(value: unknown): boolean;

  /** After every message, written or given up (or thrown out of): for a subclass to let go of what it held. */
  protected messageDone(): void {}

  protected writeByte(byte: number): boolean {
    if (!this.room(1)) return false;
    this.bytes[this.pos++] = byte;
    return true;
  }

  /**
   * Makes room for `size` more bytes; false when the message would pass MAX_CHUNK_MESSAGE_BYTES.
   * Past its chunk's end, the message so far moves to the start of a new chunk (larger for a
   * large message); the old chunk is left to the messages handed out of it.
   */
  protected room(size: number): boolean {
    if (this.pos + size <= this.bytes.length) return true;
    const needed = this.pos - this.start + size;
    if (needed > MAX_CHUNK_MESSAGE_BYTES) return false;
    const chunk = new Uint8Array(Math.max(CHUNK_BYTES, Math.min(MAX_CHUNK_MESSAGE_BYTES, needed * 2)));
    chunk.set(this.bytes.subarray(this.start, this.pos));
    this.pos -= this.start;
    this.start = 0;
    this.bytes = chunk;
    this.buffer = chunk.buffer;
    this.view = new DataView(this.buffer);
    return true;
  }
}
