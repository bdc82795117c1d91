/** Byte figures, and the bounds the scenarios hold a server's memory to. */

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * What one peer may make a server hold: twice the bytes it sent (a frame cut across reads is
 * kept as it arrives, at worst twice over; see transport-tcp's guarantees) and a read buffer.
 * Never what its headers claim: a claimed length only bounds, through the limits, how far that
 * memory may grow with more bytes.
 */
export const heldFor = (sentBytes: number): number => 2 * sentBytes + 64 * KiB;

/** The heap, code and buffers a busy server uses over its idle size, whatever its peers send. */
export const HEADROOM = 96 * MiB;

/** Slack for the buffers a server makes and drops around a measurement (its own reads and writes). */
export const CHURN = 8 * MiB;

export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
