/** Golden byte vectors of razor-rpc v1 frames, written out by hand from the protocol table. */
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

export const golden = {
  /** action "Calculator.add", seq 1, msg 01 02 03, blob aa bb */
  stringActionRequest: hex(`
    254d 01 00 0e000080 0100000000000000 0000000000000000 03000000 02000000
    43616c63756c61746f722e616464 010203 aabb`),
  /** numeric action 7, seq 2, msg 09 08, no blob */
  numericActionRequest: hex(`254d 01 00 07000000 0200000000000000 0000000000000000 02000000 00000000 0908`),
  /** ping: action 0, seq 3 */
  ping: hex(`254d 01 00 00000000 0300000000000000 0000000000000000 00000000 00000000`),
  /** empty ok reply to seq 3 */
  pong: hex(`254d 01 00 00000000 0300000000000000 00000000`),
  /** ok reply to seq 1 with msg 03 and blob ff */
  okReply: hex(`254d 01 00 01000000 0100000000000000 01000000 03 ff`),
  /** custom error number 1 (flag 1) for seq 1 */
  errorNumber: hex(`254d 01 01 01000000 0100000000000000 00000000`),
  /** error string "rpc_timeout" (flag 2) for seq 1 */
  errorString: hex(`254d 01 02 00000000 0100000000000000 0b000000 7270635f74696d656f7574`),
  /**
   * The hello's offer with the default limits: version 1, role 0 (offer), one entry of kind 1
   * (receive limits), 8 bytes: max message 16 MiB, max blob 64 MiB.
   */
  helloOffer: hex(`01 00 0100 0800 00000001 00000004`),
  /** The hello request a Skein client sends first: action 0x7fff_ff00, seq 0, the offer as msg. */
  helloRequest: hex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 0e000000 00000000
    01 00 0100 0800 00000001 00000004`),
  /** The server's answer: ok, seq 0, version 1, role 1 (answer), the limits it will check replies against. */
  helloAnswer: hex(`254d 01 00 0e000000 0000000000000000 00000000  01 01 0100 0800 00000001 00000004`),
  /** The answer that accepts nothing (an offer of an unknown version, or of nothing the server speaks). */
  helloAnswerNothing: hex(`254d 01 00 02000000 0000000000000000 00000000  01 01`),
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
