/** Golden byte vectors of razor-rpc v1 frames, written out by hand from the protocol table. */
import { fromHex } from '@skein/test-utils';

export const golden = {
  /** action "Calculator.add", seq 1, msg 01 02 03, blob aa bb */
  stringActionRequest: fromHex(`
    254d 01 00 0e000080 0100000000000000 0000000000000000 03000000 02000000
    43616c63756c61746f722e616464 010203 aabb`),
  /** numeric action 7, seq 2, msg 09 08, no blob */
  numericActionRequest: fromHex(`254d 01 00 07000000 0200000000000000 0000000000000000 02000000 00000000 0908`),
  /** ping: action 0, seq 3 */
  ping: fromHex(`254d 01 00 00000000 0300000000000000 0000000000000000 00000000 00000000`),
  /** empty ok reply to seq 3 */
  pong: fromHex(`254d 01 00 00000000 0300000000000000 00000000`),
  /** ok reply to seq 1 with msg 03 and blob ff */
  okReply: fromHex(`254d 01 00 01000000 0100000000000000 01000000 03 ff`),
  /** custom error number 1 (flag 1) for seq 1 */
  errorNumber: fromHex(`254d 01 01 01000000 0100000000000000 00000000`),
  /** error string "rpc_timeout" (flag 2) for seq 1 */
  errorString: fromHex(`254d 01 02 00000000 0100000000000000 0b000000 7270635f74696d656f7574`),
  /**
   * The hello's offer with the default limits: version 1, role 0 (offer), one entry of kind 1
   * (receive limits), 8 bytes: max message 16 MiB, max blob 64 MiB.
   */
  helloOffer: fromHex(`01 00 0100 0800 00000001 00000004`),
  /** The hello request a Skein client sends first: action 0x7fff_ff00, seq 0, the offer as msg. */
  helloRequest: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 0e000000 00000000
    01 00 0100 0800 00000001 00000004`),
  /** The server's answer: ok, seq 0, version 1, role 1 (answer), the limits it will check replies against. */
  helloAnswer: fromHex(`254d 01 00 0e000000 0000000000000000 00000000  01 01 0100 0800 00000001 00000004`),
  /** The answer that accepts nothing (an offer of an unknown version, or of nothing the server speaks). */
  helloAnswerNothing: fromHex(`254d 01 00 02000000 0000000000000000 00000000  01 01`),
  /**
   * A Skein client's default offer: receive limits, then cancel (kind 2, empty), call heads
   * (kind 3, empty), streams (kind 4: its receive window per stream, 1 MiB), server pings
   * (kind 21, empty: it answers them), the in-flight cap (kind 24, empty: it keeps its window
   * within it), the goodbye (kind 25, empty: it reads a draining server's last frame), the
   * server's request limits (kind 26, empty: it refuses a request over them unsent) and reply
   * metadata (kind 27, empty: it reads reply heads).
   */
  helloOfferFull: fromHex(`01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000  1500 0000  1800 0000  1900 0000  1a00 0000  1b00 0000`),
  /** The request carrying it. */
  helloRequestFull: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 32000000 00000000
    01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000  1500 0000  1800 0000  1900 0000  1a00 0000  1b00 0000`),
  /** The same offer from a Skein client before reply metadata (no kind 27): it is sent none. */
  helloRequestNoReplyMetadata: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 2e000000 00000000
    01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000  1500 0000  1800 0000  1900 0000  1a00 0000`),
  /**
   * A server's answer to it with the defaults: limits, cancel, call heads up to 8 KiB, streams
   * with a 1 MiB window, server pings, its cap of 1024 calls at once on the connection, the
   * goodbye, the requests it reads (message 16 MiB, blob 64 MiB, action 1 KiB), and reply metadata.
   */
  helloAnswerFull: fromHex(`254d 01 00 46000000 0000000000000000 00000000
    01 01  0100 0800 00000001 00000004  0200 0000  0300 0400 00200000  0400 0400 00001000  1500 0000  1800 0400 00040000  1900 0000  1a00 0c00 00000001 00000004 00040000  1b00 0000`),
  /** The answer to `helloRequestNoReplyMetadata`: `helloAnswerFull` without kind 27. */
  helloAnswerNoReplyMetadata: fromHex(`254d 01 00 42000000 0000000000000000 00000000
    01 01  0100 0800 00000001 00000004  0200 0000  0300 0400 00200000  0400 0400 00001000  1500 0000  1800 0400 00040000  1900 0000  1a00 0c00 00000001 00000004 00040000`),
  /** `helloRequestFull` from a client whose `limits.maxReplyMetadata` is 1024: kind 27 names it (u32). */
  helloRequestReplyMetadata1024: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 36000000 00000000
    01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000  1500 0000  1800 0000  1900 0000  1a00 0000  1b00 0400 00040000`),
  /** The answer to it: `helloAnswerFull`, its kind 27 naming the bound the server holds handlers to (1024; an empty offer's answer stays empty). */
  helloAnswerReplyMetadata1024: fromHex(`254d 01 00 4a000000 0000000000000000 00000000
    01 01  0100 0800 00000001 00000004  0200 0000  0300 0400 00200000  0400 0400 00001000  1500 0000  1800 0400 00040000  1900 0000  1a00 0c00 00000001 00000004 00040000  1b00 0400 00040000`),
  /** `helloRequestFull` with a kind 27 value of 2 bytes (no u32): read as an empty one, answered `helloAnswerFull`. */
  helloRequestReplyMetadataShort: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 34000000 00000000
    01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000  1500 0000  1800 0000  1900 0000  1a00 0000  1b00 0200 0004`),
  /** Reply metadata for seq 1: flag 0x1e, a call head as msg (no deadline; `k` = `v`), no blob; its call's answer follows. */
  replyMetadata: fromHex(`254d 01 1e 09000000 0100000000000000 00000000  ffffffff 01 6b 0100 76`),
  /** The same on stream 6 (after its items): the stream's end (its answer, flag 0, 1 or 2) follows. */
  streamReplyMetadata: fromHex(`254d 01 1e 09000000 0600000000000000 00000000  ffffffff 01 6b 0100 76`),
  /** The end of stream 6: its ok answer, msg 03. */
  streamEnd: fromHex(`254d 01 00 01000000 0600000000000000 00000000  03`),
  /** The offer of limits and the in-flight cap alone (kind 24, empty), and a server's answer with `maxInFlightPerConn` 8. */
  helloRequestCap: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 12000000 00000000
    01 00  0100 0800 00000001 00000004  1800 0000`),
  helloAnswerCap8: fromHex(`254d 01 00 16000000 0000000000000000 00000000  01 01  0100 0800 00000001 00000004  1800 0400 08000000`),
  /** The same offer from a Skein client before server pings (no kind 21): it is never pinged. */
  helloRequestNoPings: fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 1e000000 00000000
    01 00  0100 0800 00000001 00000004  0200 0000  0300 0000  0400 0400 00001000`),
  /** A server ping: flag 0x19, seq 0, no body. */
  serverPing: fromHex(`254d 01 19 00000000 0000000000000000 00000000`),
  /** A client's answer to it: action 0x7fff_ff19, seq 0, no body. */
  serverPong: fromHex(`254d 01 00 19ffff7f 0000000000000000 0000000000000000 00000000 00000000`),
  /** A draining server's goodbye, its last frame on the connection: flag 0x1d, seq 0, no body. */
  goodbye: fromHex(`254d 01 1d 00000000 0000000000000000 00000000`),

  // ── Extension frames (docs/protocol.md, "Extension frames"): only after the hello agreed them ──
  /** Cancel seq 5: action 0x7fff_ff01, no body. */
  cancel: fromHex(`254d 01 00 01ffff7f 0500000000000000 0000000000000000 00000000 00000000`),
  /**
   * The head of call seq 5: action 0x7fff_ff02; 250 ms left; metadata authorization = "Bearer t"
   * (key_len 13, key, value_len 8, value). The call's own request, seq 5, comes next.
   */
  head: fromHex(`254d 01 00 02ffff7f 0500000000000000 0000000000000000 1c000000 00000000
    fa000000  0d 617574686f72697a6174696f6e  0800 4265617265722074`),
  /** The head of a call with a signal only: no deadline (ffffffff), no metadata. */
  headBare: fromHex(`254d 01 00 02ffff7f 0500000000000000 0000000000000000 04000000 00000000 ffffffff`),
  /** Opening stream seq 6: action 0x7fff_ff03 with a head (no deadline); the opening request, seq 6, comes next. */
  open: fromHex(`254d 01 00 03ffff7f 0600000000000000 0000000000000000 04000000 00000000 ffffffff`),
  /** An item the client sends on stream 6: action 0x7fff_ff04, msg 01 02. */
  clientData: fromHex(`254d 01 00 04ffff7f 0600000000000000 0000000000000000 02000000 00000000 0102`),
  /** The client ends its side of stream 6: action 0x7fff_ff05. */
  clientEnd: fromHex(`254d 01 00 05ffff7f 0600000000000000 0000000000000000 00000000 00000000`),
  /** The client grants 64 KiB on stream 6: action 0x7fff_ff06, msg u32. */
  clientCredit: fromHex(`254d 01 00 06ffff7f 0600000000000000 0000000000000000 04000000 00000000 00000100`),
  /** An item the server sends on stream 6: flag 3, msg 0a, blob bb. */
  serverData: fromHex(`254d 01 03 01000000 0600000000000000 01000000 0a bb`),
  /** The server grants 64 KiB on stream 6: flag 4, the bytes in msg_len, no body. */
  serverCredit: fromHex(`254d 01 04 00000100 0600000000000000 00000000`),

  // ── Auth (docs/protocol.md, "Auth"): credentials only after the hello's answer asks for them ──
  /** The auth entry of a hello, offer or answer: kind 10, empty. */
  authEntry: fromHex(`0a00 0000`),
  /** Credentials "second" presented with seq 3: action 0x7fff_ff10, the bytes as msg. */
  credentials: fromHex(`254d 01 00 10ffff7f 0300000000000000 0000000000000000 06000000 00000000  7365636f6e64`),
  /** The grant for credentials sent with seq 4: ok, msg ttl_ms u32 = 1000. */
  grant: fromHex(`254d 01 00 04000000 0400000000000000 00000000  e8030000`),
};

export function errorStringFrame(seq: number, s: string): Uint8Array {
  const b = Buffer.alloc(20 + s.length);
  b.writeUInt16LE(0x4d25, 0);
  b[2] = 1;
  b[3] = 2;
  b.writeBigUInt64LE(BigInt(seq), 8);
  b.writeInt32LE(s.length, 16);
  b.write(s, 20, 'latin1');
  return new Uint8Array(b);
}
