import { rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { decodeHello, encodeHello, receiveLimitsEntry, u32Entry, HelloKind, HelloRole } from '../src/wire/hello.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { HEAD_ACTION } from '../src/wire/extension-frames.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { REVERSE_KIND, reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { startServer, requestFrame as request, responseFrames as responses } from './harness.js';

const cleanup = cleanups();

/**
 * A client may send the hello again (docs/protocol.md, "The hello"); the extensions stay as the
 * first hello that agreed any settled them. The answer to a later one must say so: an answer
 * that accepts what the connection will not honour has its client send frames it then refuses.
 */
describe('a hello sent again on a connection whose extensions are settled', () => {
  it('is answered with the extensions the connection keeps, not those of the new offer', async () => {
    const s = await startServer({ 1: () => new Uint8Array([1]) });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    const limits = receiveLimitsEntry(1 << 20, 1 << 20);
    peer.write(request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [limits, u32Entry(HelloKind.Cancel)])));
    peer.write(request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [limits, u32Entry(HelloKind.Cancel), u32Entry(HelloKind.CallHead), u32Entry(HelloKind.Streams, 65536)])));
    const answers = () => responses(peer.received()).filter((r) => r.seq === 0);
    await waitFor(() => answers().length === 2, { what: 'both hellos answered' });
    const kinds = answers().map((a) => decodeHello(a.body, 0, a.body.length).entries.map((e) => e.kind));
    expect(kinds).toEqual([
      [HelloKind.ReceiveLimits, HelloKind.Cancel],
      [HelloKind.ReceiveLimits, HelloKind.Cancel],
    ]);
    // What it kept is what it does: a head is refused as not agreed, and plain calls go on.
    peer.write(request(HEAD_ACTION, 1, encodeCallHead(5000, { k: 'v' })));
    peer.write(request(1, 1));
    peer.write(request(1, 2));
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 2), { what: 'the plain call answered' });
    const byseq = new Map(responses(peer.received()).map((r) => [r.seq, r]));
    expect(new TextDecoder().decode(byseq.get(1)!.body)).toMatch(/^rpc_decode:call heads were not agreed/);
    expect([...byseq.get(2)!.body]).toEqual([1]);
  });
});

describe('a hello sent again on a connection that agreed calls both ways', () => {
  it('is answered with the reverse-calls entry the connection keeps: its server goes on calling', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    const offer = encodeHello(HelloRole.Offer, [receiveLimitsEntry(1 << 20, 1 << 20), reverseOfferEntry(4)]);
    peer.write(request(HELLO_ACTION, 0, offer));
    peer.write(request(HELLO_ACTION, 0, offer));
    const answers = () => responses(peer.received()).filter((r) => r.seq === 0);
    await waitFor(() => answers().length === 2, { what: 'both hellos answered' });
    const kinds = answers().map((a) => decodeHello(a.body, 0, a.body.length).entries.map((e) => e.kind));
    expect(kinds[0]).toContain(REVERSE_KIND);
    // The connection still calls its peer: the later answer must not tell it otherwise.
    expect(s.server.openConnections()[0]!.caller).toBeDefined();
    expect(kinds[1]).toEqual(kinds[0]);
  });
});

describe('a hello sent again after one that agreed no extension', () => {
  it('settles them: its answer names them and the connection honours them', async () => {
    const s = await startServer({ 1: () => new Uint8Array([1]) });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    const limits = receiveLimitsEntry(1 << 20, 1 << 20);
    peer.write(request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [limits])));
    peer.write(request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [limits, u32Entry(HelloKind.Cancel), u32Entry(HelloKind.CallHead)])));
    const answers = () => responses(peer.received()).filter((r) => r.seq === 0);
    await waitFor(() => answers().length === 2, { what: 'both hellos answered' });
    const kinds = answers().map((a) => decodeHello(a.body, 0, a.body.length).entries.map((e) => e.kind));
    expect(kinds).toEqual([[HelloKind.ReceiveLimits], [HelloKind.ReceiveLimits, HelloKind.Cancel, HelloKind.CallHead]]);
    peer.write(request(HEAD_ACTION, 1, encodeCallHead(5000, { k: 'v' })));
    peer.write(request(1, 1));
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 1), { what: 'the call with a head answered' });
    expect([...responses(peer.received()).find((r) => r.seq === 1)!.body]).toEqual([1]);
  });
});
