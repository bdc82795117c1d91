import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createClient, implement, method, service } from '../src/index.js';

// `method({ input })` with no output schema: what a user gets, as the api README says. The
// output is `unknown` on both sides, as an absent schema checks nothing: the client must narrow
// the answer before using it, and the handler may return anything (or nothing). `void` would
// refuse handlers that return a value (`async () => row`), so `unknown` stays.
const Jobs = service('Jobs', {
  start: method({ input: z.object({ id: z.string() }) }),
});

declare const caller: Caller;
const jobs = createClient(Jobs, caller, { codec: null! });

describe('method({ input }) with no output', () => {
  it("types the client's answer unknown, its argument by the schema", async () => {
    expectTypeOf(jobs.start).parameter(0).toEqualTypeOf<{ id: string }>();
    expectTypeOf(jobs.start({ id: 'a' })).resolves.toBeUnknown();
    const answer = await jobs.start({ id: 'a' });
    // @ts-expect-error unknown: narrowed first
    void answer.length;
    if (typeof answer === 'string') expectTypeOf(answer).toEqualTypeOf<string>();
  });

  it('lets the handler return anything, or nothing', () => {
    implement(Jobs, { start: ({ id }) => id.length });
    implement(Jobs, { start: async () => ({ queued: true }) });
    implement(Jobs, { start: () => {} });
    implement(Jobs, { start: async () => undefined });
  });
});
