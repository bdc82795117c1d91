import { describe, expect, it } from 'vitest';
import { guardedLogger, silentLogger, type Logger } from '../src/index.js';

/** A logger that throws on its first line only (a transport hiccup, a serializer that chokes once), recording the others. */
function throwsOnce(): { logger: Logger; lines: { obj: object; msg?: string }[] } {
  const lines: { obj: object; msg?: string }[] = [];
  let calls = 0;
  const write = (obj: object, msg?: string): void => {
    if (calls++ === 0) throw new Error('sink hiccup');
    lines.push({ obj, msg });
  };
  return { logger: { debug: write, info: write, warn: write, error: write }, lines };
}

describe('guardedLogger, after the logger threw on a line', () => {
  it("writes it again with its fields (a failed call's action and peer), errors as name and message", () => {
    const { logger, lines } = throwsOnce();
    guardedLogger(logger).error({ action: 'Svc.m', peer: '10.0.0.1:5', n: 3, err: new TypeError('bad') }, 'Svc.m failed');
    expect(lines).toEqual([
      { obj: { action: 'Svc.m', peer: '10.0.0.1:5', n: 3, err: { name: 'TypeError', message: 'bad' }, logFailed: 'sink hiccup' }, msg: 'Svc.m failed' },
    ]);
  });

  it('keeps the fields it can write beside those it cannot (a cycle, a bigint, a throwing getter), never throwing', () => {
    const { logger, lines } = throwsOnce();
    const parent: Record<string, unknown> = { name: 'parent' };
    parent.self = parent;
    const hostile = {
      get boom(): never {
        throw new Error('getter threw');
      },
    };
    expect(() => guardedLogger(logger).warn({ action: 'Svc.m', cyc: parent, big: 10n, hostile }, 'x')).not.toThrow();
    expect(lines[0]!.obj).toEqual({
      action: 'Svc.m',
      cyc: { name: 'parent', self: '[Circular]' },
      big: '10',
      hostile: '(not written: getter threw)',
      logFailed: 'sink hiccup',
    });
  });

  it('says so when even the keys cannot be listed (a Proxy whose trap throws)', () => {
    const { logger, lines } = throwsOnce();
    const trap = new Proxy({}, { ownKeys: () => { throw new Error('no keys'); } });
    guardedLogger(logger).info(trap, 'y');
    expect(lines).toEqual([{ obj: { fieldsNotWritten: 'no keys', logFailed: 'sink hiccup' }, msg: 'y' }]);
  });

  it('falls back to logFailed alone for a logger that refuses every field, and drops a line it cannot write at all', () => {
    const lines: object[] = [];
    const fieldless: Logger = { debug() {}, info() {}, warn() {}, error(obj) { if (Object.keys(obj).some((k) => k !== 'logFailed')) throw new Error('no fields'); lines.push(obj); } };
    guardedLogger(fieldless).error({ action: 'Svc.m' }, 'z');
    expect(lines).toEqual([{ logFailed: 'no fields' }]);
    const broken: Logger = { debug() {}, info() {}, warn() {}, error() { throw new Error('down'); } };
    expect(() => guardedLogger(broken).error({ action: 'Svc.m' }, 'z')).not.toThrow();
  });

  it('takes the silent logger as it is: it cannot throw, and cannot be made to', () => {
    expect(guardedLogger(silentLogger)).toBe(silentLogger);
    expect(Object.isFrozen(silentLogger)).toBe(true);
    expect(() => Object.assign(silentLogger, { error: () => { throw new Error('no'); } })).toThrow(TypeError);
  });
});
