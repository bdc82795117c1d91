import { addExtension } from 'cbor-x';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Tags 2 and 3 (RFC 8949 §3.4.3): a byte string holding the magnitude, big-endian. */
function magnitude(bytes: unknown): bigint {
  if (!(bytes instanceof Uint8Array)) throw new Error('a bignum tag must hold a byte string');
  let hex = '0x0';
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!];
  return BigInt(hex);
}

let installed = false;

/**
 * Replaces cbor-x's bignum readers, which shift a BigInt once per byte: quadratic, so a 256 KiB
 * bignum in a hostile message takes over half a minute to decode. Parsing the hex text is
 * linear. cbor-x keeps tag readers in one table for the whole process, so this also serves
 * any other cbor-x user there; the values it returns are the same.
 */
export function installLinearBignums(): void {
  if (installed) return;
  installed = true;
  const register = addExtension as (extension: { tag: number; decode(value: unknown): unknown }) => void;
  register({ tag: 2, decode: magnitude });
  register({ tag: 3, decode: (bytes) => -1n - magnitude(bytes) });
}
