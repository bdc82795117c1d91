import { ManualClock } from '@skein/test-utils';
import { ErrorCode } from '@skein/core';
import { describe, expect, it, vi } from 'vitest';
import { Backoff } from '../src/pool/backoff.js';
import { CircuitBreaker, circuitBreakerOptions } from '../src/pool/circuit-breaker.js';
import { HashRing } from '../src/pool/hash-ring.js';
import { RetryBudget } from '../src/pool/retry-budget.js';
import { createSelector, type ServerView } from '../src/pool/selection.js';

describe('Backoff', () => {
  it('grows the ceiling exponentially up to maxMs, and jitters over the whole range below it', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, multiplier: 2 }, () => 0.999_999);
    const ceilings = Array.from({ length: 7 }, () => Math.round(top.next()));
    expect(ceilings).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    const bottom = new Backoff({}, () => 0);
    expect([bottom.next(), bottom.next()]).toEqual([0, 0]); // full jitter: down to zero
  });

  it('starts over after reset', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 10_000 }, () => 0.5);
    b.next();
    b.next();
    b.next();
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(5);
  });

  it('spreads a crowd of reconnects over the window instead of one instant', () => {
    const delays = Array.from({ length: 1000 }, () => new Backoff({ initialMs: 1000 }).next());
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.floor(d / 100)]++;
    for (const n of buckets) expect(n).toBeGreaterThan(40); // about 100 in each tenth
  });

  it('rejects nonsense options', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => new Backoff({ initialMs: 100, maxMs: 50 })).toThrow(/maxMs/);
    expect(() => new Backoff({ multiplier: 0.5 })).toThrow(/multiplier/);
  });
});

describe('RetryBudget', () => {
  it('allows ratio × first attempts as retries', () => {
    const b = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0 }, new ManualClock());
    for (let i = 0; i < 10; i++) b.deposit();
    const granted = Array.from({ length: 8 }, () => b.tryWithdraw()).filter(Boolean).length;
    expect(granted).toBe(5);
  });

  it('has a floor of minRetriesPerSecond with no traffic at all', () => {
    const b = new RetryBudget({ ratio: 0, minRetriesPerSecond: 2 }, new ManualClock());
    const granted = Array.from({ length: 50 }, () => b.tryWithdraw()).filter(Boolean).length;
    expect(granted).toBe(20); // 2 a second over the 10-second window
  });

  it('forgets tokens after the window, so a long healthy spell banks no burst', () => {
    const clock = new ManualClock();
    const b = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0 }, clock);
    for (let i = 0; i < 100; i++) b.deposit();
    expect(b.balance).toBe(100);
    clock.advance(5_000);
    expect(b.balance).toBe(100);
    clock.advance(6_000);
    expect(b.balance).toBe(0);
    expect(b.tryWithdraw()).toBe(false);
  });

  it('is empty with ratio 0 and no floor', () => {
    const b = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 }, new ManualClock());
    for (let i = 0; i < 1000; i++) b.deposit();
    expect(b.tryWithdraw()).toBe(false);
  });
});

describe('HashRing', () => {
  const servers = ['10.0.0.1:4000', '10.0.0.2:4000', '10.0.0.3:4000', '10.0.0.4:4000'];
  const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);
  const shares = (ring: HashRing) => {
    const n = new Map<string, number>();
    for (const k of keys) {
      const a = ring.lookup(k, () => true)!;
      n.set(a, (n.get(a) ?? 0) + 1);
    }
    return n;
  };

  it('gives each server about an equal share', () => {
    const ring = new HashRing();
    ring.set(servers.map((address) => ({ address, weight: 1 })));
    for (const n of shares(ring).values()) {
      expect(n / keys.length).toBeGreaterThan(0.18);
      expect(n / keys.length).toBeLessThan(0.32);
    }
  });

  it('gives a weight-2 server about twice the share', () => {
    const ring = new HashRing();
    ring.set(servers.map((address, i) => ({ address, weight: i === 0 ? 2 : 1 })));
    const s = shares(ring);
    const ratio = s.get(servers[0]!)! / s.get(servers[1]!)!;
    expect(ratio).toBeGreaterThan(1.5);
    expect(ratio).toBeLessThan(2.7);
  });

  it('hands a skipped server’s keys to the next servers, and leaves every other key where it was', () => {
    const ring = new HashRing();
    ring.set(servers.map((address) => ({ address, weight: 1 })));
    const down = servers[1]!;
    for (const k of keys.slice(0, 2000)) {
      const owner = ring.lookup(k, () => true)!;
      const fallback = ring.lookup(k, (a) => a !== down)!;
      if (owner === down) expect(fallback).not.toBe(down);
      else expect(fallback).toBe(owner);
    }
    expect(ring.lookup('x', () => false)).toBeUndefined();
  });

  it("builds the ring once for servers that join one by one (a discovery's first view), at the next keyed pick", () => {
    const all = Array.from({ length: 300 }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}:4000`, weight: 1, healthy: true, inFlight: 0 }));
    const fresh = new HashRing();
    fresh.set(all);
    const builds = vi.spyOn(HashRing.prototype, 'set');
    try {
      const selector = createSelector<ServerView>('hash');
      for (let n = 1; n <= all.length; n++) selector.membershipChanged!(all.slice(0, n));
      expect(builds).toHaveBeenCalledTimes(0);
      const picked = keys.slice(0, 500).map((k) => selector.pick(k, all, () => true)!.address);
      expect(builds).toHaveBeenCalledTimes(1);
      expect(picked).toEqual(keys.slice(0, 500).map((k) => fresh.lookup(k, () => true)));
      // A leave is seen at the next keyed pick: its keys go elsewhere, no other key moves.
      const left = all.filter((s) => s.address !== picked[0]);
      selector.membershipChanged!(left);
      const after = keys.slice(0, 500).map((k) => selector.pick(k, left, () => true)!.address);
      expect(builds).toHaveBeenCalledTimes(2);
      after.forEach((a, i) => (picked[i] === picked[0] ? expect(a).not.toBe(picked[0]) : expect(a).toBe(picked[i])));
    } finally {
      builds.mockRestore();
    }
  });
});

describe('CircuitBreaker', () => {
  it('frees a released probe\'s place only in the half-open round that probe took it', () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker(circuitBreakerOptions({ minCalls: 1, openMs: 1000, halfOpenCalls: 1 }), clock, () => {});
    b.failed();
    clock.advance(1000);
    expect(b.admits()).toBe(true);
    const first = b.sent()!;
    expect(b.admits()).toBe(false);
    b.failed(); // another probe's failure: open again, then a new round
    clock.advance(1000);
    expect(b.admits()).toBe(true);
    const second = b.sent()!;
    b.release(first); // the old round's probe gives up: no place in this round
    expect(b.admits()).toBe(false);
    b.release(second);
    expect(b.admits()).toBe(true);
    expect(b.state).toBe('half-open');
  });
});
