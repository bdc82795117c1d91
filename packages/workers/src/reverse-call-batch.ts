import type { ReverseCallOpts, ReverseCallsMessage } from './messages.js';

/** Header words in front of each call's bytes: reverse call id, connection key (the pool's), msg length, blob length. */
const CALL_WORDS = 4;
const FIRST_BYTES = 4096;

/** Up to the next multiple of 4, so that the next call's header words are aligned. */
const aligned = (n: number): number => (n + 3) & ~3;

/**
 * The reverse calls a worker's handlers make in one turn, packed for one message. Each call's
 * bytes are copied here at once, when it is made (a handler's msg may be a view of a codec's
 * scratch buffer, which the next encode of the turn overwrites), into one buffer that grows by
 * doubling and is then transferred, not cloned. A call is its header words then its msg and blob.
 */
export class ReverseCallPacker {
  private buf = new ArrayBuffer(0);
  private words = new Uint32Array(this.buf);
  private bytes = new Uint8Array(this.buf);
  private used = 0;
  private actions: (string | number)[] = [];
  private opts: ReverseCallOpts[] | undefined;
  private cancels: number[] | undefined;

  /** `opts` without its `at`, which is set here; undefined when the call has none. */
  add(id: number, connKey: number, action: string | number, msg: Uint8Array, blob: Uint8Array, opts: { -readonly [K in keyof ReverseCallOpts]?: ReverseCallOpts[K] } | undefined): void {
    const at = this.used;
    const end = aligned(at + CALL_WORDS * 4 + msg.length + blob.length);
    if (end > this.buf.byteLength) this.grow(end);
    const w = at >>> 2;
    this.words[w] = id;
    this.words[w + 1] = connKey;
    this.words[w + 2] = msg.length;
    this.words[w + 3] = blob.length;
    const msgAt = at + CALL_WORDS * 4;
    this.bytes.set(msg, msgAt);
    this.bytes.set(blob, msgAt + msg.length);
    this.used = end;
    if (opts !== undefined) {
      opts.at = this.actions.length;
      (this.opts ??= []).push(opts as ReverseCallOpts);
    }
    this.actions.push(action);
  }

  /** A call of this batch or an earlier one whose signal aborted. */
  cancel(id: number): void {
    (this.cancels ??= []).push(id);
  }

  /** The batch so far, as a message whose `buf` is to be transferred; the packer starts empty again. */
  take(): ReverseCallsMessage {
    const m: ReverseCallsMessage = { t: 'reverse', n: this.actions.length, buf: this.buf, actions: this.actions, opts: this.opts, cancels: this.cancels };
    this.buf = new ArrayBuffer(0);
    this.words = new Uint32Array(this.buf);
    this.bytes = new Uint8Array(this.buf);
    this.used = 0;
    this.actions = [];
    this.opts = undefined;
    this.cancels = undefined;
    return m;
  }

  private grow(need: number): void {
    let size = Math.max(FIRST_BYTES, this.buf.byteLength * 2);
    while (size < need) size *= 2;
    const buf = new ArrayBuffer(size);
    const bytes = new Uint8Array(buf);
    bytes.set(this.bytes.subarray(0, this.used));
    this.buf = buf;
    this.words = new Uint32Array(buf);
    this.bytes = bytes;
  }
}

/** Receives one reverse call of a batch; msg and blob are views of the transferred buffer. */
export type ReverseCallSink = (id: number, connKey: number, action: string | number, msg: Uint8Array, blob: Uint8Array, opts: ReverseCallOpts | undefined) => void;

/** Reads a batch packed by `ReverseCallPacker`: its calls, in order (its cancels are the caller's to apply). */
export function unpackReverseCalls(m: ReverseCallsMessage, sink: ReverseCallSink): void {
  const words = new Uint32Array(m.buf);
  const bytes = new Uint8Array(m.buf);
  const opts = m.opts;
  let nextOpts = 0;
  let at = 0;
  for (let i = 0; i < m.n; i++) {
    const w = at >>> 2;
    const msgAt = at + CALL_WORDS * 4;
    const msgEnd = msgAt + words[w + 2]!;
    const blobEnd = msgEnd + words[w + 3]!;
    const o = opts !== undefined && opts[nextOpts]?.at === i ? opts[nextOpts++] : undefined;
    sink(words[w]!, words[w + 1]!, m.actions[i]!, bytes.subarray(msgAt, msgEnd), bytes.subarray(msgEnd, blobEnd), o);
    at = aligned(blobEnd);
  }
}
