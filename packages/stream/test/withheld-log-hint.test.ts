import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WithheldLog } from '../src/index.js';

// A dispatch's hint (@skein/api's, ~250 characters) is asked for only when its line is written:
// in an outage every call fails alike, and the failures only counted must not each build one.

describe("WithheldLog.warn's hint given as a function", () => {
  it('is called once per line written, never for a failure only counted', () => {
    const logger = memoryLogger();
    const clock = new ManualClock();
    const log = new WithheldLog(logger, { clock, intervalMs: 1000 });
    const err = new RpcError(ErrorCode.Unreachable, 'cannot connect to 10.1.2.3:7000');
    let built = 0;
    const hint = (e: RpcError): string => (built++, ` (a hint for ${e.codeName})`);
    for (let i = 0; i < 100; i++) log.warn('Svc.m', err, { err }, hint);
    expect(built).toBe(1);
    // Two quiet intervals forget the pair: the next failure is a new line, with its hint.
    clock.advance(1000);
    clock.advance(1000);
    clock.advance(1000);
    log.warn('Svc.m', err, { err }, hint);
    expect(built).toBe(2);
    expect(logger.lines.filter((l) => l.msg?.endsWith('(a hint for Unreachable)')).map((l) => l.msg)).toEqual([
      'Svc.m failed with Unreachable (a hint for Unreachable)',
      'Svc.m failed with Unreachable (a hint for Unreachable)',
    ]);
    log.flush();
  });
});
