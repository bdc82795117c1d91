import { EMPTY_BYTES } from '@skein/core';
import { HELLO_VERSION, HelloError, HelloKind, HelloRole, decodeHello, findEntry, type HelloEntry } from './hello.js';
import { putU32, u32 } from './protocol.js';

/**
 * The auth extension's wire parts (docs/protocol.md, "Auth"). The hello only negotiates it: a
 * client with credentials offers an empty entry of kind HelloKind.Auth, and a server that
 * authenticates answers with one. Only then are the credentials sent, as the msg of a request
 * with the reserved action AUTH_ACTION (again, to renew them, on the live connection): so no
 * peer that does not authenticate, razor v1 or Skein, ever receives them. The server answers
 * that request with a grant: how long the credentials stay good.
 */

/** Presents credentials (the first time and to renew them). Its seq is taken from the calls'. */
export const AUTH_ACTION = 0x7fff_ff10;

/** The most credentials a server reads: a token, not a payload. */
export const MAX_CREDENTIALS = 0xffff;

/** A grant's msg: ttl_ms u32, 0 when the server sets no expiry. */
const GRANT_LENGTH = 4;

/** The longest ttl a grant tells: about 49 days; a longer one is told as this (the client renews early, no harm). */
const MAX_TTL = 0xffff_ffff;

/** The hello entry of the auth extension, empty both ways: "I have credentials" / "present them". */
export const AUTH_ENTRY: HelloEntry = { kind: HelloKind.Auth, value: EMPTY_BYTES };

/** A grant's bytes: `ttlMs` rounded up to at least 1 (0 says "no expiry"), capped. */
export function encodeGrant(ttlMs: number | undefined): Uint8Array {
  const value = new Uint8Array(GRANT_LENGTH);
  if (ttlMs !== undefined) putU32(value, 0, Math.min(MAX_TTL, Math.max(1, Math.ceil(ttlMs))));
  return value;
}

/** A grant's ttl in ms, or undefined when it sets no expiry. Throws HelloError when too short to hold it. */
export function decodeGrant(b: Uint8Array, from: number, to: number): number | undefined {
  if (to - from < GRANT_LENGTH) throw new HelloError(`auth grant of ${to - from} bytes, expected ${GRANT_LENGTH}`);
  const ttl = u32(b, from);
  return ttl === 0 ? undefined : ttl;
}

/** True when the hello offer at `b[from, to)` offers auth. The offer has been read once already, so it parses. */
export function offersAuth(b: Uint8Array, from: number, to: number): boolean {
  const hello = decodeHello(b, from, to);
  return hello.version === HELLO_VERSION && hello.role === HelloRole.Offer && findEntry(hello, HelloKind.Auth) !== undefined;
}
