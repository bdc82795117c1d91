import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger } from '../src/index.js';

describe('consoleLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  /** The lines the logger writes, through console.error (its one way out). */
  function capture(): string[] {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void lines.push(String(line)));
    return lines;
  }

  it('writes a line for fields that JSON cannot hold (a circular value, a bigint, a throwing getter) instead of throwing', () => {
    const lines = capture();
    const log = consoleLogger('info', 'test');
    const parent: Record<string, unknown> = { name: 'parent' };
    parent.self = parent;
    const hostile = {
      get boom(): never {
        throw new Error('getter threw');
      },
    };
    expect(() => log.error({ err: parent, n: 10n }, 'circular')).not.toThrow();
    expect(() => log.error({ hostile }, 'getter')).not.toThrow();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('circular');
    expect(lines[0]).toContain('"name":"parent"');
    expect(lines[0]).toContain('[Circular]');
    expect(lines[0]).toContain('"n":"10"');
    expect(lines[1]).toContain('getter');
    expect(lines[1]).toContain('"hostile":"(not written: getter threw)"');
  });

  it('writes a value seen twice, not in a cycle, both times', () => {
    const lines = capture();
    const shared = { id: 7 };
    consoleLogger('info').info({ a: shared, b: shared }, 'twice');
    expect(lines[0]).toContain('"a":{"id":7},"b":{"id":7}');
  });

  it("keeps a line's other fields when one cannot be written (a failed call's action and peer, beside an error with a throwing getter)", () => {
    const lines = capture();
    const err = {
      get response(): never {
        throw new Error('getter threw');
      },
    };
    expect(() => consoleLogger('info').error({ action: 'Svc.m', peer: '10.0.0.1:5', err }, 'Svc.m failed')).not.toThrow();
    expect(lines[0]).toContain('"action":"Svc.m"');
    expect(lines[0]).toContain('"peer":"10.0.0.1:5"');
    expect(lines[0]).toContain('getter threw');
  });
});

describe('guardedLogger', () => {
  it('never throws, writing a line it cannot write again with logFailed, and wraps a logger only once', async () => {
    const { guardedLogger } = await import('../src/index.js');
    const lines: unknown[] = [];
    const picky = { debug() {}, info() {}, warn() {}, error(obj: object) { if (!('logFailed' in obj)) throw new Error('no'); lines.push(obj); } };
    const g = guardedLogger(picky);
    expect(() => g.error({ a: 1 }, 'x')).not.toThrow();
    expect(lines).toEqual([{ a: 1, logFailed: 'no' }]);
    // A part handing its logger on to the parts it makes does not stack wrappers.
    expect(guardedLogger(g)).toBe(g);
  });
});
