import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpRelay, type TcpRelay } from '../src/index.js';

// A release pipes again only what a hold held: a connection relayed since the hold, or never
// held, is piped already, and piped twice it would deliver each byte twice (a request twice). A
// throttled connection is relayed by its throttle, so a release resumes that, and pipes nothing.

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/**
 * A target that answers `reply` and ends once a connection sent it anything, and records all
 * the connection sent (until it closes); and a relay to it.
 */
async function relayed(reply: string): Promise<{ relay: TcpRelay; received: Promise<string>[] }> {
  const received: Promise<string>[] = [];
  const target = net.createServer((s) => {
    s.on('error', () => undefined);
    received.push(
      new Promise((resolve) => {
        let got = '';
        s.on('data', (d: Buffer) => {
          if (got === '') s.end(reply);
          got += d.toString();
        });
        s.on('close', () => resolve(got));
      }),
    );
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => target.close(resolve)));
  const relay = await startTcpRelay(`127.0.0.1:${(target.address() as net.AddressInfo).port}`);
  closers.push(() => relay.close());
  return { relay, received };
}

/** Connects through `relay`, once the relay has dialed the target (the target has one more connection). */
async function connected(relay: TcpRelay, received: Promise<string>[]): Promise<net.Socket> {
  const [host, port] = relay.address.split(':');
  const n = received.length;
  const s = net.connect(Number(port), host);
  s.on('error', () => undefined);
  closers.push(() => s.destroy());
  await expect.poll(() => received.length).toBe(n + 1);
  return s;
}

/** Sends `text` on `s`; what the target answers, to its end. */
function send(s: net.Socket, text: string): Promise<string> {
  const answer = new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
  });
  s.write(text);
  return answer;
}

describe('TcpRelay release', () => {
  it('releaseClients of a connection never held relays its bytes to the target once', async () => {
    const { relay, received } = await relayed('ok');
    const s = await connected(relay, received);
    relay.releaseClients();
    await send(s, 'abc');
    expect(await received[0]).toBe('abc');
  });

  it("release of a connection never held relays the target's bytes once", async () => {
    const { relay, received } = await relayed('xyz');
    const s = await connected(relay, received);
    relay.release();
    expect(await send(s, 'go')).toBe('xyz');
  });

  it('a connection relayed after a hold is not piped twice by its release; the held one gets its bytes', async () => {
    const { relay, received } = await relayed('ok');
    const before = await connected(relay, received);
    relay.holdClients();
    const after = await connected(relay, received);
    const answers = [send(before, 'held'), send(after, 'new')];
    relay.releaseClients();
    expect(await Promise.all(answers)).toEqual(['ok', 'ok']);
    expect(await Promise.all(received)).toEqual(['held', 'new']);
  });
});

/** A pace far above what the tests send: the throttle relays, and never makes them wait. */
const FAST = 1 << 20;

describe('TcpRelay release of a throttled connection', () => {
  it("relays the target's bytes once after throttle, hold and release", async () => {
    const { relay, received } = await relayed('xyz');
    const s = await connected(relay, received);
    relay.throttle(FAST);
    relay.hold();
    const answer = send(s, 'go');
    relay.release();
    expect(await answer).toBe('xyz');
    expect(await received[0]).toBe('go');
  });

  it("relays the clients' bytes once after throttle, holdClients and releaseClients", async () => {
    const { relay, received } = await relayed('ok');
    const s = await connected(relay, received);
    relay.throttle(FAST);
    relay.holdClients();
    const answer = send(s, 'abc');
    relay.releaseClients();
    expect(await answer).toBe('ok');
    expect(await received[0]).toBe('abc');
  });

  it('relays once when throttled while held, then released', async () => {
    const { relay, received } = await relayed('xyz');
    const s = await connected(relay, received);
    relay.hold();
    relay.throttle(FAST);
    const answer = send(s, 'go');
    relay.release();
    expect(await answer).toBe('xyz');
  });
});
