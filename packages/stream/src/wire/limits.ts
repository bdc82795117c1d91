import { invalidArgument } from '@skein/core';
import { MAX_BLOB_WIRE } from './protocol.js';

/** Bounds on every length a peer sends. A frame over any of them closes its connection. */
export interface Limits {
  /** Structured message bytes per frame. Default 16 MiB. */
  maxMessage: number;
  /** Blob bytes per frame. Default 64 MiB (the protocol's ceiling is 2^31-1). */
  maxBlob: number;
  /** Action string bytes. Default 1 KiB. */
  maxAction: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxMessage: 16 * 1024 * 1024,
  maxBlob: 64 * 1024 * 1024,
  maxAction: 1024,
};

export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const l = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 0) throw invalidArgument(`limits.${k} must be a non-negative integer, got ${v}`);
  }
  if (l.maxBlob > MAX_BLOB_WIRE) throw invalidArgument(`limits.maxBlob cannot exceed ${MAX_BLOB_WIRE}`);
  if (l.maxMessage > 0xffff_ffff) throw invalidArgument('limits.maxMessage cannot exceed 2^32-1');
  return l;
}
