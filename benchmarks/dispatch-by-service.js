// CPU per request of @skein/stream's dispatchByService, beside handing the same request to the
// same dispatch directly: what routing by service adds (one lastIndexOf, one slice, one Map get;
// none for a numeric action). Four actions: a dotted service's (`skein.health.Health.check`), a
// plain one's (`Orders.add`), a service not listed (`Stock.take`, to `otherwise`) and a numeric
// action. 1e6 requests per loop, over 1024 request objects holding one action string each, as a
// server's requests share its decoded names; the inner dispatch only counts. Alternated, 1
// warm-up round then 5 measured; prints the best and every round, CPU ns per call
// (process.cpuUsage), and the best routed minus the best direct.
//
//   node benchmarks/dispatch-by-service.js        (after `pnpm --filter @skein/stream build`)
import { dispatchByService } from '@skein/stream';

const N = 1_000_000;
const ROUNDS = 5;

let seen = 0;
const sink = { dispatch: () => void seen++ };
// A dozen services, as a server with a few of its own beside health might list.
const services = { 'skein.health.Health': sink, Orders: sink };
for (let i = 0; i < 10; i++) services[`Service${i}`] = sink;
const routed = dispatchByService({ services, otherwise: sink });

const requests = (action) =>
  Array.from({ length: 1024 }, () => (typeof action === 'number' ? { actionId: action, actionName: '' } : { actionId: -1, actionName: action }));

// A function of its own per loop (new Function: a literal each), so that every call site sees one dispatch.
const loop = () => new Function('d', 'reqs', 'n', 'for (let i = 0; i < n; i++) d.dispatch(reqs[i & 1023]);');

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

for (const action of ['skein.health.Health.check', 'Orders.add', 'Stock.take', 7]) {
  const reqs = requests(action);
  const runs = { direct: { d: sink, run: loop(), ns: [] }, routed: { d: routed, run: loop(), ns: [] } };
  const order = Object.keys(runs);
  for (let r = 0; r <= ROUNDS; r++) {
    for (const key of r % 2 ? order : [...order].reverse()) {
      const { d, run, ns } = runs[key];
      const before = seen;
      const t0 = cpuNs();
      run(d, reqs, N);
      const t = cpuNs() - t0;
      if (seen - before !== N) throw new Error(`${key}: ${seen - before} requests reached the dispatch, not ${N}`);
      if (r > 0) ns.push(t / N);
    }
  }
  const best = (k) => Math.min(...runs[k].ns);
  for (const [key, { ns }] of Object.entries(runs)) {
    console.log(`${String(action).padEnd(26)} ${key.padEnd(7)} best ${best(key).toFixed(1)} ns/call  rounds ${ns.map((x) => x.toFixed(1)).join(' ')}`);
  }
  console.log(`${String(action).padEnd(26)} routing adds ${(best('routed') - best('direct')).toFixed(1)} ns/call`);
}
