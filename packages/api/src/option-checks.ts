import { invalidArgument, type Codec } from '@skein/core';

/*
 * The options a client or a dispatch is made with, checked once when it is made: refused there,
 * a mistake is said where it was made, instead of failing every call (a missing codec as a
 * TypeError on the client, as an Internal "handler threw" on the server).
 */

/** `codec` is a Codec: an object with `encode` and `decode`. `owner` names what takes it. */
export function checkCodec(codec: Codec | undefined, owner: string): void {
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
    throw invalidArgument(`${owner}: codec must be a Codec (an object with encode and decode, such as msgpackCodec), got ${describe(codec)}`);
  }
}

/** A default `timeoutMs` for every call is what a call's own must be: a positive finite number of ms. */
export function checkDefaultTimeout(timeoutMs: number | undefined, owner: string): void {
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs < Infinity)) {
    throw invalidArgument(`${owner}: timeoutMs must be a positive number of ms, got ${describe(timeoutMs)}`);
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'number') return String(v);
  return typeof v === 'object' ? 'an object without encode and decode' : typeof v;
}
