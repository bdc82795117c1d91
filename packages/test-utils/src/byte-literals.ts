/**
 * Bytes written out in tests: wire vectors as hex, lengths as the big-endian 32-bit integers that
 * msgpack's and CBOR's 32-bit heads carry. The opposite of `hex` (same-outcome.ts), which shows
 * bytes as hex.
 */

/**
 * The bytes a hex string spells; white space between them is allowed (`'254d 01 00'`), for
 * vectors laid out by field. Anything else that is not two hex digits a byte throws: Buffer's own
 * reading stops at the first such character and hands back the bytes before it, so a typo in a
 * vector would test a shorter one without a word.
 */
export function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not hex bytes: ${JSON.stringify(text.slice(0, 80))}`);
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

/** `n` as four big-endian bytes (a msgpack or CBOR 32-bit length or value), to spread into a byte list. */
export const u32be = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/**
 * `head`, then each part's bytes, in one list: what `[...head, ...parts.flat()]` gives, built
 * without spreading a list of a million bytes (the hostile-message tests' maps of 128 Ki keys,
 * which took seconds to lay out that way, more than their decodes).
 */
export function joinBytes(head: readonly number[], parts: readonly (readonly number[])[]): number[] {
  const out = head.slice();
  for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i]!);
  return out;
}

/** As `joinBytes`, as a Uint8Array: `Uint8Array.from(joinBytes(head, parts))`, written in place. */
export function joinedBytes(head: readonly number[], parts: readonly (readonly number[])[]): Uint8Array {
  let length = head.length;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  out.set(head);
  let at = head.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
