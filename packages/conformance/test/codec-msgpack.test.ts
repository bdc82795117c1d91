// @skein/codec-msgpack against the codec conformance suite. It runs here, not in the codec's own
// package: this package depends on codec-msgpack (the transport suite's codec), so codec-msgpack's tests
// importing it would make a circle in the package graph.
import { msgpack, msgpackCodec } from '@skein/codec-msgpack';
import { expect, it, type RunnerTask, type RunnerTestCase } from 'vitest';
import { codecConformance } from '../src/index.js';

const expectations = {
  undefined: 'null',
  negativeZero: '0',
  smallBigInt: 'number',
  bigIntRange: '64-bit',
  map: 'Map',
  set: 'Set',
  arrayBuffer: 'encode error',
  typedArrays: 'bytes',
  farDates: 'exact',
  invalidDate: 'encode error',
  protoKey: 'decode error',
  invalidBytes: [
    new Uint8Array([0xc1]), // the one type byte msgpack never uses
    new Uint8Array([0x81, 0x90, 0x01]), // a map whose key is an array
    new Uint8Array([0xc7, 0x03, 0xff, 0x00, 0x00, 0x00]), // a 3-byte timestamp
    new Uint8Array([0xd4, 0x01, 0x05]), // a Map extension holding 5
    new Uint8Array([0xd5, 0x01, 0x91, 0x01]), // a Map extension holding [1]
    new Uint8Array([0xd4, 0x00, 0x05]), // a Set extension holding 5
  ],
} as const;

codecConformance(msgpackCodec, expectations);
codecConformance({ ...msgpack({ sortKeys: true }), name: 'msgpack (sortKeys)' }, expectations);

// The suite runs in a codec author's vitest project, whose test timeout is vitest's default
// (5 s), not this repository's (vitest.config.ts: 30 s), and its heaviest tests are CPU-bound (a
// 1 MiB string, 70 000 keys, every truncation of the sample messages, 6000 fuzz inputs): each of
// its tests must carry a timeout of its own, past this repository's, whatever the project says.
const REPO_TIMEOUT_MS = 30_000;
const testsIn = (tasks: readonly RunnerTask[]): RunnerTestCase[] =>
  tasks.flatMap((t) => (t.type === 'test' ? [t] : t.type === 'suite' ? testsIn(t.tasks) : []));

it("gives every test of the codec suite a timeout of its own, longer than this repository's", ({ task }) => {
  const kit = task.file.tasks.find((t) => t.type === 'suite' && t.name === 'msgpack codec conformance');
  const tests = testsIn(kit ? [kit] : []);
  expect(tests.length).toBeGreaterThan(80);
  for (const t of tests) expect({ name: t.name, timeout: t.timeout }).toEqual({ name: t.name, timeout: expect.toSatisfy((ms: number) => ms > REPO_TIMEOUT_MS) });
});
