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
const RETRIES: readonly RetryPolicy[] = ['safe', 'idempotent', 'never'];

/**
 * The answers a worker gathers in one turn (and the outcomes of a worker's reverse calls the pool
 * gathers in one of its turns), sent back as one message whose bytes travel in one
 * transferred buffer. The bytes are copied once, here: a handler's reply may be a view of a
 * codec's reused scratch buffer, which must not leave the worker anyway.
 */
export class ReplyPacker implements ReplySink {
  private words: number[] = [];
  private parts: Uint8Array[] = [];
  private strings: string[] = [];
  private bytes = 0;

  get count(): number {
    return this.words.length / REPLY_WORDS;
  }

  ok(callId: number, msg: Uint8Array, blob: Uint8Array): void {
    this.words.push(callId, OK, msg.length, blob.length);
    this.parts.push(msg, blob);
    this.bytes += msg.length + blob.length;
  }

  /** `code` is one of CODE_INFO's: the request refused any other (ServerRequest.fail), so it fits the word. */
  error(callId: number, code: ErrorCode, detail: string | undefined): void {
    this.words.push(callId, ERROR, code, detail === undefined ? 0 : this.strings.push(detail));
  }

  custom(callId: number, payload: ErrorPayload): void {
    if (typeof payload === 'number') return void this.words.push(callId, CUSTOM_NUMBER, payload, 0);
    this.words.push(callId, CUSTOM_BYTES, payload.length, 0);
    this.parts.push(payload);
    this.bytes += payload.length;
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
    const { words, parts, strings } = this;
    try {
      post(this.take());
    } catch (err) {
      this.reset();
      if (words.length === REPLY_WORDS) return unsent(words[0]!, err);
      sendApart(words, parts, strings, post, unsent);
    }
  }

  /** The batch so far, as a message whose `buf` is to be transferred; the packer starts empty again. */
  take(): RepliesMessage {
    const m: RepliesMessage = { t: 'replies', n: this.count, buf: this.pack(), strings: this.strings };
    this.reset();
    return m;
  }

  /** The same, as the answers to a worker's reverse calls. */
  takeAnswers(gone: readonly number[] | undefined): ReverseAnswersMessage {
    const m: ReverseAnswersMessage = { t: 'answers', n: this.count, buf: this.pack(), strings: this.strings, gone };
    this.reset();
    return m;
  }

  private pack(): ArrayBuffer {
    const headBytes = this.words.length * 4;
    const buf = new ArrayBuffer(headBytes + this.bytes);
    new Uint32Array(buf, 0, this.words.length).set(this.words);
    const body = new Uint8Array(buf);
    let at = headBytes;
    for (const p of this.parts) {
      body.set(p, at);
      at += p.length;
    }
    return buf;
  }

  private reset(): void {
    this.words = [];
    this.parts = [];
    this.strings = [];
    this.bytes = 0;
  }
}

/** Each answer of a batch that could not be sent whole, as a batch of its own: its parts and strings found by its kind. */
function sendApart(
  words: readonly number[],
  parts: readonly Uint8Array[],
  strings: readonly string[],
  post: (m: RepliesMessage) => void,
  unsent: (callId: number, err: unknown) => void,
): void {
  const one = new ReplyPacker();
  for (let w = 0, p = 0; w < words.length; w += REPLY_WORDS) {
    const id = words[w]!;
    const a = words[w + 2]!;
    const b = words[w + 3]!;
    switch (words[w + 1]) {
      case OK:
        one.ok(id, parts[p]!, parts[p + 1]!);
        p += 2;
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
      default:
        one.custom(id, parts[p++]!);
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
}

/** Reads a batch made by `ReplyPacker.take` or `takeAnswers`; bytes are views of the transferred buffer. */
export function unpackReplies(m: AnswerBatch, sink: ReplySink): void {
  const head = new Uint32Array(m.buf, 0, m.n * REPLY_WORDS);
  const body = new Uint8Array(m.buf);
  let at = head.byteLength;
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
      default:
        sink.custom(id, body.subarray(at, at + a));
        at += a;
    }
  }
}

const view = (body: Uint8Array, at: number, length: number): Uint8Array => (length === 0 ? EMPTY_BYTES : body.subarray(at, at + length));
