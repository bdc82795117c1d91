// The published kit runs in a third party's vitest project, whose test timeout is vitest's
// default (5 s), not this repository's (vitest.config.ts: 30 s). Its scenarios wait up to 30 s
// on purpose (the slow reader's congestion call, the close's drain) so that a broken transport
// fails with words saying what it did; under a shorter timeout of the project's, the user sees
// only "Test timed out in 5000ms". So every test of the kit carries a timeout of its own, longer
// than its longest bound, whatever the project's config says.
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { expect, it, type RunnerTestCase, type RunnerTestSuite } from 'vitest';
import { transportConformance } from '../src/index.js';

/** The longest wait inside a scenario (scenarios.mjs: the backpressure scenario's congestion call). */
const LONGEST_BOUND_MS = 30_000;

transportConformance({ transport: tcpTransport(runtime), listenAddress: '127.0.0.1:0', scenarios: ['calls', 'backpressure'] });

it("gives each of the kit's tests a timeout of its own, longer than the scenarios' bounds", ({ task }) => {
  const kit = task.file.tasks.find((t): t is RunnerTestSuite => t.type === 'suite' && t.name.endsWith('Skein conformance'));
  const tests = (kit?.tasks ?? []).filter((t): t is RunnerTestCase => t.type === 'test');
  expect(tests.map((t) => t.name)).toEqual([
    'calls',
    'backpressure',
    expect.stringMatching(/^refuses a header its server spec rejects/),
    expect.stringMatching(/^holds no memory for a body only claimed/),
    expect.stringMatching(/^half-closes at end\(\)/),
    expect.stringMatching(/^reports an abrupt close at the peer/),
    expect.stringMatching(/^carries a frame of exactly maxFrameBytes/),
    expect.stringMatching(/^keeps what it sends within setPeerMaxFrameBytes/),
    expect.stringMatching(/^connect honours its signal/),
    expect.stringMatching(/^connect gives up at its timeoutMs/),
    expect.stringMatching(/^refuses a malformed address/),
    expect.stringMatching(/^closes gracefully/),
    expect.stringMatching(/^every connection reports its close/),
    expect.stringMatching(/^reports a close both sides ended as clean/),
    expect.stringMatching(/^counts bytes right/),
    expect.stringMatching(/^calls FrameSpec.bodyLength as the spec's method/),
    expect.stringMatching(/^adds no listener per call/),
  ]);
  for (const t of tests) expect({ name: t.name, timeout: t.timeout }).toEqual({ name: t.name, timeout: expect.toSatisfy((ms: number) => ms > LONGEST_BOUND_MS) });
});
