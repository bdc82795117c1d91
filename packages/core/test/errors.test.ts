import { describe, expect, it } from 'vitest';
import {
  CODE_INFO,
  ErrorCode,
  RemoteError,
  RpcError,
  codeErrors,
  connectFailed,
  connectTimerMs,
  codeFromWire,
} from '../src/index.js';


describe('built-in error codes', () => {
  it('match razor-rpc numbers and wire strings', () => {
    const razor: [ErrorCode, string][] = [
      [0, 'rpc_unreachable'],
      [1, 'rpc_io_err'],
      [2, 'rpc_timeout'],
      [3, 'rpc_method_notfound'],
      [4, 'rpc_service_notfound'],
      [5, 'rpc_encode'],
      [6, 'rpc_decode'],
      [7, 'rpc_internal_err'],
      [8, 'rpc_invalid_ver'],
    ];
    for (const [code, wire] of razor) {
      expect(CODE_INFO[code].wire).toBe(wire);
      expect(codeFromWire(wire)).toBe(code);
    }
  });

  it("gives Skein's own codes rpc_ wire strings that no razor code uses", () => {
    const own = [ErrorCode.Cancelled, ErrorCode.Overloaded, ErrorCode.Unauthenticated, ErrorCode.FrameTooLarge];
    const wires = new Set(Object.values(CODE_INFO).map((i) => i.wire));
    expect(wires.size).toBe(Object.keys(CODE_INFO).length);
    for (const c of own) expect(CODE_INFO[c].wire).toMatch(/^rpc_/);
  });

  it('tells never-reached from may-have-executed', () => {
    expect(new RpcError(ErrorCode.Unreachable).retry).toBe('safe');
    expect(new RpcError(ErrorCode.Overloaded).neverExecuted).toBe(true);
    expect(new RpcError(ErrorCode.Timeout).retry).toBe('idempotent');
    expect(new RpcError(ErrorCode.IO).retry).toBe('idempotent');
    expect(new RpcError(ErrorCode.IO, 'not written', { retry: 'safe' }).neverExecuted).toBe(true);
    expect(new RpcError(ErrorCode.Method).retry).toBe('never');
    expect(new RpcError(ErrorCode.Internal).retry).toBe('never');
  });

  it('is an Error with a readable code name and cause', () => {
    const cause = new Error('ECONNRESET');
    const e = new RpcError(ErrorCode.IO, 'lost', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.codeName).toBe('IO');
    expect(e.cause).toBe(cause);
    expect(RpcError.is(e, ErrorCode.IO)).toBe(true);
    expect(RpcError.is(e, ErrorCode.Timeout)).toBe(false);
  });
});

describe('codeErrors', () => {
  class DivideByZero extends Error {}
  class Overflow extends Error {}
  class BigOverflow extends Overflow {}
  const codec = codeErrors({ 1: DivideByZero, 2: Overflow, 3: BigOverflow });

  it('maps declared classes to numbers and back to instances', () => {
    expect(codec.encode(new DivideByZero())).toBe(1);
    expect(codec.encode(new BigOverflow())).toBe(3);
    expect(codec.decode(1)).toBeInstanceOf(DivideByZero);
    expect(codec.decode(3)).toBeInstanceOf(BigOverflow);
  });

  it('sends an undeclared subclass as its nearest declared class, whatever the order of the codes', () => {
    class HugeOverflow extends BigOverflow {}
    expect(codec.encode(new HugeOverflow())).toBe(3);
    expect(codeErrors({ 1: BigOverflow, 2: Overflow }).encode(new HugeOverflow())).toBe(1);
    expect(codec.decode(codec.encode(new HugeOverflow()))).toBeInstanceOf(BigOverflow);
  });

  it('recognises only declared errors', () => {
    expect(codec.is(new Overflow())).toBe(true);
    expect(codec.is(new Error('x'))).toBe(false);
  });

  it('turns an unknown number into a RemoteError rather than guessing', () => {
    expect(() => codec.decode(9)).toThrow(RemoteError);
  });

  it('rejects numbers that cannot travel', () => {
    expect(() => codeErrors({ [-1]: DivideByZero })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'codeErrors: -1 is not a u32 error number' }),
    );
  });

  it('refuses to encode an error it does not declare, with InvalidArgument', () => {
    expect(() => codec.encode(new Error('stray') as DivideByZero)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});

describe('connect failures', () => {
  it('are Unreachable, safe to retry, naming the peer and why, with the cause kept', () => {
    const cause = new Error('ECONNREFUSED');
    const err = connectFailed('127.0.0.1:1', 'refused', cause);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect(err.message).toBe('cannot connect to 127.0.0.1:1: refused');
    expect(err.cause).toBe(cause);
    expect(err.retry).toBe('safe');
  });

  it('cap a connect timer at the longest delay timers honour', () => {
    expect(connectTimerMs(5000)).toBe(5000);
    expect(connectTimerMs(Infinity)).toBe(2 ** 31 - 1);
  });
});
