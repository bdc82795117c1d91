import { describe, expect, it } from 'vitest';
import { ErrorCode, refuseUnknownOptions } from '../src/index.js';

const invalid = (message: string): unknown => expect.objectContaining({ code: ErrorCode.InvalidArgument, message });

describe('refuseUnknownOptions', () => {
  it('refuses an option not known, naming it and the known ones, as refuseRenamed words an old name', () => {
    expect(() => refuseUnknownOptions({ pathh: '/' }, ['path', 'tls'], 'wsTransport')).toThrow(invalid('wsTransport option pathh is unknown (its options: path, tls)'));
    expect(() => refuseUnknownOptions({ a: 1, b: undefined }, ['path'], 'X')).toThrow(invalid('X options a, b are unknown (its options: path)'));
  });

  it('refuses what is no options object', () => {
    expect(() => refuseUnknownOptions(null, [], 'X')).toThrow(invalid('X takes an options object, got null'));
    expect(() => refuseUnknownOptions([], [], 'X')).toThrow(invalid('X takes an options object, got an array'));
    expect(() => refuseUnknownOptions('/skein', [], 'X')).toThrow(invalid('X takes an options object, got string'));
  });

  it('lets known options, none and undefined through', () => {
    expect(() => refuseUnknownOptions({ path: '/', tls: undefined }, ['path', 'tls'], 'X')).not.toThrow();
    expect(() => refuseUnknownOptions({}, [], 'X')).not.toThrow();
    expect(() => refuseUnknownOptions(undefined, [], 'X')).not.toThrow();
  });
});
