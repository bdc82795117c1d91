/**
 * The fuzzer's frames: valid razor v1 requests, mutations of them that keep the framing (the
 * server answers each one), and the mutations that end a connection (random bytes, bad magic or
 * version, lengths over the limits, a non-UTF-8 action, a frame cut short, a length that no
 * longer matches the body, a huge length claimed and never sent). All from a seeded generator,
 * so a failure replays byte for byte.
 */
import { flipBits } from '@skein/test-utils';
import { protocol, type Limits } from '@skein/stream';

const HEADER = protocol.REQUEST_HEADER_LENGTH;
const utf8 = new TextEncoder();
const ECHO = utf8.encode('echo');

type Random = () => number;
const below = (random: Random, n: number): number => Math.floor(random() * n);
/** An integer in [lo, hi]. */
const between = (random: Random, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

const setU32 = (b: Uint8Array, at: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);

function randomBytes(random: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = below(random, 256);
  return b;
}

/** A request for `action` (a number, or the bytes of a string action) with random msg and blob. */
function request(random: Random, action: number | Uint8Array, seq: number, msgMax = 48, blobMax = 16): Uint8Array {
  const name = typeof action === 'number' ? undefined : action;
  const msg = below(random, msgMax + 1);
  const blob = random() < 0.3 ? below(random, blobMax + 1) : 0;
  const frame = randomBytes(random, HEADER + (name?.length ?? 0) + msg + blob);
  protocol.writeRequestHeader(frame, name ? '' : (action as number), name?.length ?? 0, seq, msg, blob);
  if (name) frame.set(name, HEADER);
  return frame;
}

/** Where the body (msg and blob) of a frame made by `request` starts. */
const bodyAt = (frame: Uint8Array): number => {
  const action = protocol.u32(frame, protocol.REQ_ACTION_AT);
  return HEADER + (action & protocol.ACTION_STRING_BIT ? action & protocol.ACTION_LEN_MASK : 0);
};

/** A valid echo request, numeric action 1 or the string action `echo`. */
const valid = (random: Random, seq: number): Uint8Array => request(random, random() < 0.7 ? 1 : ECHO, seq);

/** Mutations the server answers: each gets exactly one reply, and the connection stays up. */
const ANSWERED: readonly ((random: Random, seq: number) => Uint8Array)[] = [
  valid,
  // Flipped bits in the message and blob: the echo carries them back.
  (random, seq) => {
    const f = valid(random, seq);
    return flipBits(random, f, bodyAt(f), f.length, between(random, 1, 3));
  },
  // Flipped bits in the seq, the client id and the format byte, which the server echoes or skips.
  (random, seq) => {
    const f = valid(random, seq);
    return random() < 0.2 ? flipBits(random, f, 3, 4) : flipBits(random, f, protocol.SEQ_AT, 24, between(random, 1, 3));
  },
  // Any numeric action: unknown ones are answered Method; 0 is a ping, and the protocol's own.
  (random, seq) => request(random, random() < 0.1 ? protocol.PING_ACTION : below(random, 0x8000_0000), seq),
];

/** How a connection's last frame ends it, and what the server owes it before it closes. */
export interface Terminal {
  readonly kind: string;
  /** The server answers it with an error before it closes (the protocol's last words). */
  readonly lastWords: boolean;
  /** It leaves a frame open: this side half-closes after it, and the server must then close. */
  readonly endAfter: boolean;
  /** It may be read as one whole frame, answered, before what is left of it breaks framing. */
  readonly mayBeAnswered?: boolean;
  make(random: Random, seq: number, limits: Limits): Uint8Array;
}

export const TERMINALS: readonly Terminal[] = [
  {
    kind: 'random bytes',
    lastWords: false,
    endAfter: false,
    make(random) {
      const b = randomBytes(random, between(random, HEADER, 96));
      if ((b[0]! | (b[1]! << 8)) === protocol.MAGIC) b[0]! ^= 1;
      return b;
    },
  },
  {
    kind: 'bad magic',
    lastWords: false,
    endAfter: false,
    make(random, seq) {
      const f = flipBits(random, valid(random, seq), 0, 2, between(random, 1, 3));
      if ((f[0]! | (f[1]! << 8)) === protocol.MAGIC) f[0]! ^= 1;
      return f;
    },
  },
  {
    kind: 'bad version',
    lastWords: true,
    endAfter: false,
    make(random, seq) {
      const f = valid(random, seq);
      f[2] = (protocol.VERSION + between(random, 1, 255)) & 0xff;
      return f;
    },
  },
  {
    kind: 'length over the limits',
    lastWords: true,
    endAfter: false,
    make(random, seq, limits) {
      const f = request(random, 1, seq, 0, 0);
      const field = below(random, 3);
      if (field === 0) setU32(f, protocol.REQ_MSG_LEN_AT, between(random, limits.maxMessage + 1, 0xffff_ffff));
      else if (field === 1) setU32(f, protocol.REQ_BLOB_LEN_AT, between(random, limits.maxBlob + 1, 0xffff_ffff));
      else setU32(f, protocol.REQ_ACTION_AT, (protocol.ACTION_STRING_BIT | between(random, limits.maxAction + 1, protocol.ACTION_LEN_MASK)) >>> 0);
      return f;
    },
  },
  {
    kind: 'action not UTF-8',
    lastWords: true,
    endAfter: false,
    make(random, seq) {
      const name = randomBytes(random, between(random, 1, 8));
      name[below(random, name.length)] = 0xff;
      return request(random, name, seq);
    },
  },
  {
    kind: 'cut short',
    lastWords: false,
    endAfter: true,
    make(random, seq) {
      const f = valid(random, seq);
      return f.subarray(0, between(random, 1, f.length - 1));
    },
  },
  {
    kind: 'length not the body',
    lastWords: false,
    endAfter: true,
    mayBeAnswered: true,
    make(random, seq) {
      const f = request(random, 1, seq, 64);
      const msg = protocol.u32(f, protocol.REQ_MSG_LEN_AT);
      const shorter = msg > 0 && random() < 0.5;
      setU32(f, protocol.REQ_MSG_LEN_AT, shorter ? between(random, 0, msg - 1) : msg + between(random, 1, 4096));
      return f;
    },
  },
  {
    kind: 'huge length claimed',
    lastWords: false,
    endAfter: true,
    make(random, seq, limits) {
      const f = request(random, 1, seq, 256, 0);
      setU32(f, protocol.REQ_MSG_LEN_AT, between(random, Math.floor(limits.maxMessage / 2), limits.maxMessage));
      setU32(f, protocol.REQ_BLOB_LEN_AT, between(random, 0, limits.maxBlob));
      return f;
    },
  },
];

/** What one fuzz connection sends, and what the server owes it. */
export interface ConnectionPlan {
  readonly bytes: Uint8Array;
  /** Frames in `bytes`, the terminal one included. */
  readonly frames: number;
  readonly terminal: Terminal;
  /** Replies the server must send before it closes: at least, at most. */
  readonly replies: readonly [number, number];
}

/** Answered mutations (about `meanAnswered` of them) and then one terminal frame. */
export function planConnection(random: Random, limits: Limits, meanAnswered: number): ConnectionPlan {
  const terminal = TERMINALS[below(random, TERMINALS.length)]!;
  const answered = Math.floor(-Math.log(1 - random()) * meanAnswered);
  const frames: Uint8Array[] = [];
  for (let seq = 1; seq <= answered; seq++) frames.push(ANSWERED[below(random, ANSWERED.length)]!(random, seq));
  frames.push(terminal.make(random, answered + 1, limits));
  const extra = terminal.lastWords ? 1 : 0;
  return {
    bytes: Buffer.concat(frames),
    frames: frames.length,
    terminal,
    replies: [answered + extra, answered + extra + (terminal.mayBeAnswered ? 1 : 0)],
  };
}

/**
 * Where to cut `length` bytes into writes: mostly pieces of up to 4 KiB, often a few bytes, so
 * that headers and bodies arrive cut across reads.
 */
export function pieces(random: Random, length: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; at < length; ) {
    at = Math.min(length, at + (random() < 0.3 ? between(random, 1, 40) : between(random, 41, 4096)));
    cuts.push(at);
  }
  return cuts;
}

/** Response frames whole in `bytes`, from the start. */
export function countResponses(bytes: Uint8Array): number {
  let n = 0;
  for (let at = 0; bytes.length - at >= protocol.RESPONSE_HEADER_LENGTH; n++) {
    const flag = bytes[at + protocol.RES_FLAG_AT];
    const msg = protocol.u32(bytes, at + protocol.RES_MSG_LEN_AT);
    const blob = protocol.u32(bytes, at + protocol.RES_BLOB_LEN_AT);
    const body = flag === 0 ? msg + blob : flag === 1 ? 0 : blob;
    if (at + protocol.RESPONSE_HEADER_LENGTH + body > bytes.length) break;
    at += protocol.RESPONSE_HEADER_LENGTH + body;
  }
  return n;
}

/** A valid request frame for string action `action`, for peers that send whole requests by hand. */
export function requestFrame(action: string | number, seq: number, msg: Uint8Array = new Uint8Array(0)): Uint8Array {
  const name = typeof action === 'string' ? utf8.encode(action) : undefined;
  const frame = new Uint8Array(HEADER + (name?.length ?? 0) + msg.length);
  protocol.writeRequestHeader(frame, name ? '' : (action as number), name?.length ?? 0, seq, msg.length, 0);
  if (name) frame.set(name, HEADER);
  frame.set(msg, HEADER + (name?.length ?? 0));
  return frame;
}
