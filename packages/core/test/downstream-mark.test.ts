import { describe, expect, it } from 'vitest';
import { ErrorCode, RemoteError, RpcError, fromDownstream, invalidArgument } from '../src/index.js';

// RpcError.downstream: set by Skein's clients on what they hand their user, so a server that a
// handler passes such an error on through can tell it from the handler's own verdict.

describe('RpcError.downstream', () => {
  it("is false on an error a process makes, and set in place by fromDownstream (no copy)", () => {
    const own = invalidArgument('bad id');
    expect(own.downstream).toBe(false);
    expect(fromDownstream(own)).toBe(own);
    expect(own.downstream).toBe(true);
    expect(own.message).toBe('bad id');
  });

  it('passes anything else through as it is', () => {
    const remote = new RemoteError(7);
    expect(fromDownstream(remote)).toBe(remote);
    expect(fromDownstream(null)).toBeNull();
    expect('downstream' in remote).toBe(false);
  });

  it("survives a copy that names it as its cause, unless the copy says `downstream: false`", () => {
    const got = fromDownstream(invalidArgument('user 42 not in shard db-7'));
    expect(new RpcError(got.code, `Users.get: ${got.message}`, { cause: got, retry: got.retry }).downstream).toBe(true);
    expect(new RpcError(got.code, got.message, { cause: got, downstream: false }).downstream).toBe(false);
    // Made anew from its words: the handler's own verdict.
    expect(invalidArgument(got.message).downstream).toBe(false);
    // A cause that is no RpcError says nothing.
    expect(new RpcError(ErrorCode.IO, 'lost', { cause: new Error('reset') }).downstream).toBe(false);
    expect(new RpcError(ErrorCode.IO, 'lost', { downstream: true }).downstream).toBe(true);
  });
});

describe('fromDownstream on a frozen error', () => {
  it('returns it unmarked, never throws (an application constant)', () => {
    const frozen = Object.freeze(invalidArgument('tenant header missing'));
    expect(fromDownstream(frozen)).toBe(frozen);
    expect(frozen.downstream).toBe(false);
  });
});
