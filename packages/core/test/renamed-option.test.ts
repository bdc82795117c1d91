import { describe, expect, it } from 'vitest';
import { ErrorCode, refuseRenamed } from '../src/index.js';

describe('refuseRenamed', () => {
  it('refuses an option under its old name with InvalidArgument naming the new one', () => {
    expect(() => refuseRenamed({ idleMs: 5 }, 'idleMs', 'idleTimeoutMs', 'ConnPool')).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'ConnPool option idleMs is now idleTimeoutMs' }),
    );
  });

  it('names where the options sit in the caller\'s own', () => {
    expect(() => refuseRenamed({ idleMs: 0 }, 'idleMs', 'idleTimeoutMs', 'FailoverPool', 'pool.')).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'FailoverPool option pool.idleMs is now pool.idleTimeoutMs' }),
    );
  });

  it('lets the new name, and an old one left undefined, through', () => {
    expect(() => refuseRenamed({ idleTimeoutMs: 5 }, 'idleMs', 'idleTimeoutMs', 'ConnPool')).not.toThrow();
    expect(() => refuseRenamed({ idleMs: undefined }, 'idleMs', 'idleTimeoutMs', 'ConnPool')).not.toThrow();
  });
});
