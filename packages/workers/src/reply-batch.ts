import { EMPTY_BYTES, type ErrorCode, type ErrorPayload, type RetryPolicy } from '@skein/core';
import type { AnswerBatch, RepliesMessage, ReverseAnswersMessage } from './messages.js';

/** Header words per answer: call id, kind, then two words whose meaning depends on the kind. */
const REPLY_WORDS = 4;
const OK = 0; // msg length, blob length
const ERROR = 1; // code, detail index + 1 (0: none)
const CUSTOM_NUMBER = 2; // the number
const CUSTOM_BYTES = 3; // length
/** An RpcError as a caller gave it (a reverse call's outcome): code | retry << 16, message index + 1. */
const FAILED = 4;
/**
 * The reply head (reply metadata, as the worker's request encoded it) of the answer that follows
 * it in the same batch, for the same call, or of a call with a deadline still unanswered, sent
 * ahead (reply-heads-ahead.ts): length. Only for a call whose handler set some.
 */
const HEAD = 5;
const RETRIES: readonly RetryPolicy[] = ['safe', 'idempotent', 'never'];

/** Room for the first answers' bytes; the buffer then grows by doubling. */
const FIRST_BYTES = 4096;
/** Up to the next multiple of 4, so that the header words after the bytes are aligned. */
const aligned = (n: number): number => (n + 3) & ~3;

/**
 * The answers a worker gathers in one turn (and the outcomes of a worker's reverse calls the pool
 * gathers in one of its turns), sent back as one message whose bytes travel in one
 * transferred buffer: the answers' bytes, then a header of words per answer (at `headAt`).
 * The bytes are copied once, here, when the answer is written, not when the turn's batch
 * leaves: a handler's reply may be a view of a buffer it reuses (a codec's scratch), which the
 * next answer of the same turn overwrites; in process a reply is fixed when it is written too.
 */
export class ReplyPacker implements ReplySink {
  private words: number[] = [];
  private strings: string[] = [];
  private buf = new ArrayBuffer(0);
  private body = new Uint8Array(this.buf);
  private used = 0;

  get count(): number {
    return this.words.length / REPLY_WORDS;
  }

  ok(callId: number, msg: Uint8Array, blob: Uint8Array): void {
    this.words.push(callId, OK, msg.length, blob.length);
    this.copy(msg);
    this.copy(blob);
  }

  /** `code` is one of CODE_INFO's: the request refused any other (ServerRequest.fail), so it fits the word. */
  error(callId: number, code: ErrorCode, detail: string | undefined): void {
    this.words.push(callId, ERROR, code, detail === undefined ? 0 : this.strings.push(detail));
  }

  custom(callId: number, payload: ErrorPayload): void {
    if (typeof payload === 'number') return void this.words.push(callId, CUSTOM_NUMBER, payload, 0);
    this.words.push(callId, CUSTOM_BYTES, payload.length, 0);
    this.copy(payload);
  }

  /** The reply head of `callId`'s answer, which is written next (ServerRequest writes it just before). */
  head(callId: number, head: Uint8Array): void {
    this.words.push(callId, HEAD, head.length, 0);
    this.copy(head);
  }

  /** An error whole (a reverse call's outcome, for the worker to rebuild): its message and retry policy too. */
  failed(callId: number, code: ErrorCode, message: string, retry: RetryPolicy): void {
    this.words.push(callId, FAILED, code | (RETRIES.indexOf(retry) << 16), this.strings.push(message));
  }

  /**
   * Sends the batch so far with `post` (which transfers its `buf`); the packer starts empty again.
   * A batch that cannot go (an answer that is not bytes, a detail that cannot be cloned) is sent
   * again one answer at a time, so that only the answers at fault are lost: each is given to
   * `unsent`. The whole batch's one message stays the rule; the split costs only after a throw.
   */
  send(post: (m: RepliesMessage) => void, unsent: (callId: number, err: unknown) => void): void {
    // The bytes so far, in order: a post that throws transfers nothing, so they are still here
    // to split (a buffer grown by `take` leaves this one as it was).
    const { words, strings, body } = this;
    try {
      post(this.take());
    } catch (err) {
      this.reset();
      // Reply heads alone (sent ahead of their answers: reply-heads-ahead.ts), however many, fail no call.
      if (headsOnly(words)) return;
      // One answer (with its own reply head, if it has one): nothing left to split off.
      if (words.length === REPLY_WORDS || (words.length === 2 * REPLY_WORDS && words[1] === HEAD && words[0] === words[REPLY_WORDS])) return unsent(words[words.length - REPLY_WORDS]!, err);
      sendApart(words, body, strings, post, unsent);
    }
  }

  /** The batch so far, as a message whose `buf` is to be transferred; the packer starts empty again. */
  take(): RepliesMessage {
    const m: RepliesMessage = { t: 'replies', n: this.count, headAt: this.pack(), buf: this.buf, strings: this.strings };
    this.reset();
    return m;
  }

  /** The same, as the answers to a worker's reverse calls. */
  takeAnswers(gone: readonly number[] | undefined): ReverseAnswersMessage {
    const m: ReverseAnswersMessage = { t: 'answers', n: this.count, headAt: this.pack(), buf: this.buf, strings: this.strings, gone };
    this.reset();
    return m;
  }

  /** Writes the header words after the bytes; returns where they start. */
  private pack(): number {
    const headAt = aligned(this.used);
    const end = headAt + this.words.length * 4;
    if (end > this.buf.byteLength) this.grow(end);
    new Uint32Array(this.buf, headAt, this.words.length).set(this.words);
    return headAt;
  }

  /** `bytes` copied into the batch's buffer, after the answers' bytes before them (no view made: a view costs more than a short copy). */
  private copy(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const at = this.used;
    const end = at + bytes.length;
    if (end > this.buf.byteLength) this.grow(end);
    this.body.set(bytes, at);
    this.used = end;
  }

  /** A bigger buffer with the bytes so far; the old one stays as it was. */
  private grow(need: number): void {
    const buf = new ArrayBuffer(Math.max(FIRST_BYTES, this.buf.byteLength * 2, need));
    const body = new Uint8Array(buf);
    body.set(this.body.subarray(0, this.used));
    this.buf = buf;
    this.body = body;
  }

  private reset(): void {
    this.words = [];
    this.strings = [];
    this.buf = new ArrayBuffer(0);
    this.body = new Uint8Array(this.buf);
    this.used = 0;
  }
}

/** Whether every entry of a batch's `words` is a reply head (heads sent ahead of their answers). */
function headsOnly(words: readonly number[]): boolean {
  for (let w = 1; w < words.length; w += REPLY_WORDS) if (words[w] !== HEAD) return false;
  return true;
}

/** Each answer of a batch that could not be sent whole, as a batch of its own: its bytes (in `body`, in order) and strings found by its kind. */
function sendApart(
  words: readonly number[],
  body: Uint8Array,
  strings: readonly string[],
  post: (m: RepliesMessage) => void,
  unsent: (callId: number, err: unknown) => void,
): void {
  const one = new ReplyPacker();
  for (let w = 0, at = 0; w < words.length; w += REPLY_WORDS) {
    const id = words[w]!;
    const a = words[w + 2]!;
    const b = words[w + 3]!;
    switch (words[w + 1]) {
      case OK:
        one.ok(id, body.subarray(at, at + a), body.subarray(at + a, at + a + b));
        at += a + b;
        break;
      case ERROR:
        one.error(id, a as ErrorCode, b === 0 ? undefined : strings[b - 1]);
        break;
      case CUSTOM_NUMBER:
        one.custom(id, a);
        break;
      case FAILED:
        one.failed(id, (a & 0xffff) as ErrorCode, strings[b - 1]!, RETRIES[a >>> 16]!);
        break;
      case HEAD:
        one.head(id, body.subarray(at, at + a));
        at += a;
        // Goes with its answer when that is the next entry; a head sent ahead of its answer
        // (reply-heads-ahead.ts) goes alone, so that another call's answer does not take it down.
        if (words[w + REPLY_WORDS] === id && words[w + REPLY_WORDS + 1] !== HEAD) continue;
        break;
      default:
        one.custom(id, body.subarray(at, at + a));
        at += a;
    }
    one.send(post, unsent);
  }
}

/** Where the pool applies a batch of answers to the requests it holds. */
export interface ReplySink {
  ok(callId: number, msg: Uint8Array, blob: Uint8Array): void;
  error(callId: number, code: ErrorCode, detail: string | undefined): void;
  custom(callId: number, payload: ErrorPayload): void;
  failed(callId: number, code: ErrorCode, message: string, retry: RetryPolicy): void;
  /** The reply head of the call's answer, which follows (a worker's answers only). */
  head?(callId: number, head: Uint8Array): void;
}

/** Reads a batch made by `ReplyPacker.take` or `takeAnswers`; bytes are views of the transferred buffer. */
export function unpackReplies(m: AnswerBatch, sink: ReplySink): void {
  const head = new Uint32Array(m.buf, m.headAt, m.n * REPLY_WORDS);
  const body = new Uint8Array(m.buf);
  let at = 0;
  for (let w = 0; w < head.length; w += REPLY_WORDS) {
    const id = head[w]!;
    const a = head[w + 2]!;
    const b = head[w + 3]!;
    switch (head[w + 1]) {
      case OK:
        sink.ok(id, view(body, at, a), view(body, at + a, b));
        at += a + b;
        break;
      case ERROR:
        sink.error(id, a as ErrorCode, b === 0 ? undefined : m.strings[b - 1]);
        break;
      case CUSTOM_NUMBER:
        sink.custom(id, a);
        break;
      case FAILED:
        sink.failed(id, (a & 0xffff) as ErrorCode, m.strings[b - 1]!, RETRIES[a >>> 16]!);
        break;
      case HEAD:
        sink.head?.(id, view(body, at, a));
        at += a;
        break;
      default:
        sink.custom(id, body.subarray(at, at + a));
        at += a;
    }
  }
}

const view = (body: Uint8Array, at: number, length: number): Uint8Array => (length === 0 ? EMPTY_BYTES : body.subarray(at, at + length));
