import { describe, expect, it } from 'vitest';
import { sharedAgreed, sharedLimits } from '../src/server/hello-terms.js';
import { replyLimits } from '../src/wire/limits.js';

// What a hello settles is kept per connection: connections that settled the same terms share one
// object (two small objects each add up at 10,000 idle connections), and different terms never do.
describe('hello terms', () => {
  it('gives connections with equal reply limits one object, and different limits their own', () => {
    const first = sharedLimits(replyLimits(1000, 2000));
    expect(sharedLimits(replyLimits(1000, 2000))).toBe(first);
    const other = sharedLimits(replyLimits(1000, 3000));
    expect(other).not.toBe(first);
    expect(other).toEqual({ maxMessage: 1000, maxBlob: 3000, maxError: 1000, maxBody: 4000 });
    expect(sharedLimits(replyLimits(1000, 3000))).toBe(other);
    // The same limits under a frame cap of the client's transport (its hello's max_frame) are other terms.
    const capped = sharedLimits(replyLimits(1000, 3000, 2020));
    expect(capped).not.toBe(other);
    expect(capped).toEqual({ maxMessage: 1000, maxBlob: 2000, maxError: 1000, maxBody: 2000, maxFrame: 2020 });
  });

  it('gives connections with equal agreed extensions one object, and different ones their own', () => {
    const streams = { toServer: 64, toClient: 32 };
    const first = sharedAgreed({ cancel: true, maxHead: 100, streams });
    expect(sharedAgreed({ cancel: true, maxHead: 100, streams: { ...streams } })).toBe(first);
    for (const differing of [
      { cancel: false, maxHead: 100, streams },
      { cancel: true, maxHead: 101, streams },
      { cancel: true, maxHead: 100, streams: undefined },
      { cancel: true, maxHead: 100, streams: { toServer: 64, toClient: 33 } },
      { cancel: true, maxHead: 100, streams: { toServer: 65, toClient: 32 } },
    ]) {
      sharedAgreed({ cancel: true, maxHead: 100, streams });
      expect(sharedAgreed(differing)).toEqual(differing);
      expect(sharedAgreed(differing)).not.toBe(sharedAgreed({ cancel: true, maxHead: 100, streams }));
    }
  });
});
