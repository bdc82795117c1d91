import { expect } from 'vitest';
import type { ScenarioName } from './expected.js';
import { PAUSED_READ_BYTES } from './scenarios.mjs';

/** Where a scenario's facts are explained, for a transport author reading a failure. */
const TABLE = "@skein/conformance's README, \"What each row checks\"";

/**
 * What a fact of a scenario's report says the transport got wrong, where the bare diff does not
 * (a `paused: false` names no member of FrameConn). Keyed by scenario, then by the fact.
 */
const HINTS: Partial<Record<ScenarioName, (seen: Record<string, unknown>) => string[]>> = {
  backpressure: (seen) => [
    ...(seen.paused === false
      ? ['paused: false: the server never saw its connection congested: `congested` must count the parts written in this run and not yet flushed, not only what the socket or stream holds, and call drain() once back under (docs/transports.md, "Back-pressure")']
      : []),
    ...(typeof seen.receivedWhilePaused === 'number' && seen.receivedWhilePaused > PAUSED_READ_BYTES
      ? [`receivedWhilePaused: ${seen.receivedWhilePaused}: the paused connection received more than ${PAUSED_READ_BYTES} bytes after pause() (its receivedBytes grew): it read on what kept arriving (held, not delivered), so its peer never backed up: where the transport can stop reading, pause() must (docs/transports.md, "Pause"; a ByteConn of your own stops reading the stream beneath at its pause())`]
      : seen.bounded === false
        ? ['bounded: false: the server answered every call while the reader was paused: if its connection was seen congested, the paused connection read on what kept arriving (held, not delivered): where the transport can stop reading, pause() must, so that the peer backs up (docs/transports.md, "Pause"; a ByteConn of your own stops reading the stream beneath at its pause())']
        : []),
    ...(typeof seen.deliveredWhilePaused === 'number' && seen.deliveredWhilePaused > 0
      ? ['deliveredWhilePaused > 0: pause() must stop frame delivery at once, even in the middle of a received chunk, and resume() deliver what was held (docs/transports.md, "Pause")']
      : []),
  ],
  congestedWrites: () => [
    'parts written while `congested` must be queued in order and sent whole, a part shorter than SMALL_PART copied before write() returns, and the bytes handed to frame() never written over later (docs/transports.md, "Writes" and "Frames")',
  ],
};

/** Asserts a scenario reported what it must; on a mismatch, the message says what to fix, not only the diff. */
export function expectScenario(name: ScenarioName, seen: unknown, want: unknown): void {
  const facts = typeof seen === 'object' && seen !== null ? (seen as Record<string, unknown>) : {};
  const hints = HINTS[name]?.(facts) ?? [];
  const why = [
    `the ${name} scenario reported other than it must (Expected: what must hold; Received: what it saw; each field is explained in ${TABLE})`,
    ...hints,
  ].join('; ');
  expect(seen, why).toEqual(want);
}
