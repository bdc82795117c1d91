import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { builtinErrorBytes, escapeCustomBytes, fittedDetail, readErrorBytes } from '../src/wire/error-strings.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('custom error strings on the wire', () => {
  it('reads an exact built-in string as the built-in error', () => {
    const e = readErrorBytes(bytes('rpc_timeout'));
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe(ErrorCode.Timeout);
  });

  it('never reads a user string starting with rpc_ as a built-in error', () => {
    for (const s of ['rpc_timeout', 'rpc_io_err', 'rpc_mine']) {
      const wire = escapeCustomBytes(bytes(s));
      expect(wire[0]).toBe(0);
      const back = readErrorBytes(wire);
      expect(back).not.toBeInstanceOf(RpcError);
      expect(new TextDecoder().decode(back as Uint8Array)).toBe(s);
    }
  });

  it('leaves other user strings untouched, and round-trips one that starts with the escape byte', () => {
    const plain = bytes('not found');
    expect(escapeCustomBytes(plain)).toBe(plain);
    expect(readErrorBytes(plain)).toEqual(plain);
    const tricky = new Uint8Array([0, 1, 2]);
    expect(readErrorBytes(escapeCustomBytes(tricky))).toEqual(tricky);
  });

  it('reads an unknown rpc_ string from a razor peer as a custom payload', () => {
    expect(readErrorBytes(bytes('rpc_something_else'))).toEqual(bytes('rpc_something_else'));
  });
});


describe('built-in errors with a detail', () => {
  it('carry the detail as the message', () => {
    const e = readErrorBytes(bytes('rpc_invalid_argument:Calculator.add: a: expected number'));
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect((e as RpcError).message).toBe('Calculator.add: a: expected number');
  });

  it('are not confused with an escaped user string', () => {
    const user = escapeCustomBytes(bytes('rpc_internal_err:boom'));
    expect(readErrorBytes(user)).not.toBeInstanceOf(RpcError);
  });
});


describe('a detail over the receiver\'s limit', () => {
  it('is cut to fit, never dropped: the answer still reads as "may have run"', () => {
    for (const [detail, max] of [['x'.repeat(1100), 1024], ['忙'.repeat(1000), 1024], ['😀'.repeat(600), 1100], ['x'.repeat(50), 24]] as const) {
      const out = builtinErrorBytes('rpc_overloaded', fittedDetail('rpc_overloaded', detail, max));
      expect(out.length).toBeLessThanOrEqual(max);
      // Cut at a character's end, as close to the limit as that allows (a character is at most 4 bytes).
      expect(out.length).toBeGreaterThan(max - 4);
      expect(new TextDecoder('utf-8', { fatal: true }).decode(out)).toMatch(/^rpc_overloaded:/);
      expect(readErrorBytes(out)).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
    }
  });
});

describe('the retry class of an error read from the wire describes this hop', () => {
  const read = (s: string) => readErrorBytes(bytes(s)) as RpcError;

  it("reads a server's bare refusal before dispatch as safe", () => {
    expect(read('rpc_overloaded').retry).toBe('safe');
    expect(read('rpc_closed').retry).toBe('safe');
  });

  it('reads a refusal code with a detail, which only a handler sends, as may have run', () => {
    expect(read('rpc_overloaded:Front.op: downstream overloaded').retry).toBe('idempotent');
    expect(read('rpc_closed:action 7: rpc_closed').retry).toBe('idempotent');
    expect(read('rpc_overloaded:').retry).toBe('idempotent'); // fail-closed: any detail counts
  });

  it('never reads Unreachable as safe: the peer was reached', () => {
    expect(read('rpc_unreachable').retry).toBe('idempotent');
    expect(read('rpc_unreachable:cannot connect to 10.0.0.9:4000').retry).toBe('idempotent');
    expect(read('rpc_unreachable').code).toBe(ErrorCode.Unreachable);
  });

  it("keeps every other code's own class", () => {
    expect(read('rpc_timeout').retry).toBe('idempotent');
    expect(read('rpc_io_err').retry).toBe('idempotent');
    expect(read('rpc_internal_err').retry).toBe('never');
    expect(read('rpc_invalid_argument:x').retry).toBe('never');
  });

  it('keeps a leading U+FEFF of a detail, read or cut: a detail cut to that character is still one, never a bare refusal', () => {
    const read = readErrorBytes(builtinErrorBytes('rpc_invalid_argument', '\uFEFFx'));
    expect((read as RpcError).message).toBe('\uFEFFx');
    const detail = '\uFEFF' + 'y'.repeat(100);
    // Room for the name, the colon and U+FEFF's three bytes, and no more.
    const cut = fittedDetail('rpc_overloaded', detail, 'rpc_overloaded'.length + 1 + 3);
    expect(cut).toBe('\uFEFF');
    const back = readErrorBytes(builtinErrorBytes('rpc_overloaded', cut)) as RpcError;
    expect([back.code, back.retry]).toEqual([ErrorCode.Overloaded, 'idempotent']);
    expect(fittedDetail('rpc_overloaded', detail, 30)).toBe(detail.slice(0, 30 - 'rpc_overloaded'.length - 1 - 2));
  });
});
