import { ErrorCode } from '@skein/core';
import { msgpackCodec } from '@skein/codec-msgpack';
import { describe, expect, it } from 'vitest';
import { createClient, method, service, type ServiceDef } from '../src/index.js';
import { serve } from './harness.js';

// A `then` on a stub would make it a thenable: `await client`, or an async function returning
// it, would call the method with the promise's settle functions and never settle.
const reserved = (kind: string) =>
  expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(new RegExp(`^${kind} name "then" is reserved: .*thenable`)) });

describe('the name "then"', () => {
  it('is refused for a method where the service is declared, naming it and why', () => {
    // @ts-expect-error -- refused by the types too: the typecheck fails if it is not
    expect(() => service('Jobs', { start: method<void, void>(), then: method<void, void>() })).toThrow(reserved('method'));
  });

  it('is refused for a service: a cluster holds its services under their names', () => {
    // At run time only: a type that refused it would refuse a generic name too (below).
    expect(() => service('then', { start: method<void, void>() })).toThrow(reserved('service'));
  });

  it('leaves a service whose name is a type parameter to the run-time check (a helper that builds services compiles)', () => {
    // Typechecked: a service name the types cannot know (a generic `N`) must not fail to compile.
    const named = <N extends string>(name: N) => service(name, { start: method<void, void>() });
    expect(named('Jobs').name).toBe('Jobs');
    expect(() => named('then')).toThrow(reserved('service'));
  });

  it('is refused by createClient for a definition made without service(): a stub is never a thenable', async () => {
    const h = await serve({ codec: msgpackCodec, services: [] });
    try {
      const handMade: ServiceDef = { name: 'Jobs', methods: { then: method<void, void>() } };
      expect(() => createClient(handMade, h.stream, { codec: msgpackCodec })).toThrow(reserved('method'));
    } finally {
      await h.close();
    }
  });
});
