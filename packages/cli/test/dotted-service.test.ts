import { HealthReporter, createServiceDispatch, healthService, implement, method, type ServiceDef } from '@skein/api';
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type Codec } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { testCleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import net from 'node:net';
import { describe, it, type TestContext } from 'vitest';
import { skein } from './skein-bin.js';

/**
 * A dotted service besides Skein's own health service: made as @skein/api's `Health` is (a
 * plain definition: `service()` refuses the dot), served by an application all the same.
 */
const invoiceMethods = Object.freeze({ total: method<{ items: number[] }, number>() });
const Invoices: ServiceDef<'acme.billing.Invoices', typeof invoiceMethods> = Object.freeze({ name: 'acme.billing.Invoices', methods: invoiceMethods });

// Every test has servers and listeners of its own, closed when it ends (testCleanups): the tests
// run at once (describe.concurrent), most of each being its CLI children starting up.

/** A real server over TCP: the health service answering from `reporter`, and `Invoices`; closed when test `t` ends. */
async function start(t: TestContext, codec: Codec, reporter: HealthReporter): Promise<string> {
  const cleanup = testCleanups(t);
  const services = [healthService(reporter), implement(Invoices, { total: ({ items }) => items.reduce((a, b) => a + b, 0) })];
  const server = new RpcServer({ logger: silentLogger, dispatch: createServiceDispatch({ codec, logger: silentLogger, services }) });
  const a = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${a.port}`;
}

describe.concurrent('skein call of a service whose name has dots (split at the last dot, as a server reads an action)', () => {
  it('calls skein.health.Health.check and prints the status', async (t) => {
    const { expect } = t;
    const reporter = new HealthReporter();
    reporter.set('Orders', 'not-serving');
    const addr = await start(t, msgpackCodec, reporter);
    // Each command line in a process of its own, both at once: nothing one does is seen by the other.
    const [all, orders] = await Promise.all([skein('call', addr, 'skein.health.Health.check', '{"service":""}'), skein('call', addr, 'skein.health.Health.check', '{"service":"Orders"}')]);
    expect(all).toEqual({ code: 0, stdout: '{\n  "status": "serving"\n}\n', stderr: '' });
    expect(orders).toEqual({ code: 0, stdout: '{\n  "status": "not-serving"\n}\n', stderr: '' });
  });

  it('speaks the server\'s codec (--codec cbor), and calls an application\'s dotted service', async (t) => {
    const { expect } = t;
    const addr = await start(t, cborCodec, new HealthReporter());
    const [health, total] = await Promise.all([
      skein('call', addr, 'skein.health.Health.check', '{"service":""}', '--codec', 'cbor'),
      skein('call', addr, 'acme.billing.Invoices.total', '{"items":[1,2,39]}', '--codec', 'cbor'),
    ]);
    expect(health).toEqual({ code: 0, stdout: '{\n  "status": "serving"\n}\n', stderr: '' });
    expect(total).toEqual({ code: 0, stdout: '42\n', stderr: '' });
  });

  it('gets the server\'s own error for a dotted service it lacks, or a method its dotted service lacks (exit 1)', async (t) => {
    const { expect } = t;
    const addr = await start(t, msgpackCodec, new HealthReporter());
    const [service, method] = await Promise.all([skein('call', addr, 'acme.billing.Nope.total', '{}'), skein('call', addr, 'skein.health.Health.nope', '{}')]);
    expect(service).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: Service (rpc_service_notfound): acme.billing.Nope.total: no such service on the server (rpc_service_notfound)\n',
    });
    // The server found the service `skein.health.Health` in this action: the split is the server's.
    expect(method).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: Method (rpc_method_notfound): skein.health.Health.nope: no such method on the server (rpc_method_notfound)\n',
    });
  });

  it("says why a streaming method's call fails: the server says it is a stream, call and bench make unary calls only (exit 1)", async (t) => {
    const { expect } = t;
    const addr = await start(t, msgpackCodec, new HealthReporter());
    const refusal = "skein.health.Health.watch: a server stream on the server, called as a unary method: do the client's and the server's definitions of it differ?";
    const hint = ' — call and bench make unary calls only (skein health --watch reads the health service\'s watch)\n';
    const [called, r] = await Promise.all([
      skein('call', addr, 'skein.health.Health.watch', '{"service":""}'),
      skein('bench', addr, 'skein.health.Health.watch', '{"service":""}', '--duration', '0.3'),
    ]);
    expect(called).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: InvalidArgument (rpc_invalid_argument): ${refusal}${hint}`,
    });
    expect([r.code, r.stderr]).toEqual([1, `error: InvalidArgument (rpc_invalid_argument): ${refusal}${hint}`]);
  });

  it('takes the dotted name in skein bench too (its probe and its calls)', async (t) => {
    const { expect } = t;
    const addr = await start(t, msgpackCodec, new HealthReporter());
    const r = await skein('bench', addr, 'skein.health.Health.check', '{"service":""}', '--in-flight', '1', '--duration', '0.3', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { method: string; calls: number; errors: Record<string, number> };
    expect(summary.method).toBe('skein.health.Health.check');
    expect(summary.calls).toBeGreaterThan(0);
    expect(summary.errors).toEqual({});
  });
});

describe.concurrent('a name no Skein server could serve is refused before connecting (exit 2)', () => {
  /** A listener that counts the connections it is offered: a refused name must make none. Closed when test `t` ends. */
  async function listener(t: TestContext): Promise<{ addr: string; accepted: () => number }> {
    const cleanup = testCleanups(t);
    let accepted = 0;
    const server = net.createServer((s) => (accepted++, s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, accepted: () => accepted };
  }

  it.for([
    ['a..b.m', '"a..b.m" is not Service.method: part "" of service name "a..b": service name "" must be an identifier'],
    ['.S.m', '".S.m" is not Service.method: part "" of service name ".S": service name "" must be an identifier'],
    ['S.', '"S." is not Service.method: no method name after the last dot'],
    ['.m', '".m" is not Service.method: no service name before the dot'],
    ['check', '"check" is not Service.method: no dot between the service and the method'],
    ['skein.he alth.Health.check', '"skein.he alth.Health.check" is not Service.method: part "he alth" of service name "skein.he alth.Health": service name "he alth" must be an identifier'],
    ['skein.health.Health.ch!eck', '"skein.health.Health.ch!eck" is not Service.method: method name "ch!eck" must be an identifier'],
    ['a.then.m', '"a.then.m" is not Service.method: part "then" of service name "a.then": service name "then" is reserved'],
  ])('%j', async ([text, message], t) => {
    const { expect } = t;
    const { addr, accepted } = await listener(t);
    // call and bench at once, each a process of its own.
    for (const r of await Promise.all(['call', 'bench'].map((command) => skein(command, addr, text, '{"service":""}')))) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`skein: ${message}`);
    }
    expect(accepted()).toBe(0);
  });
});
