// The NATS peer: the benchmark starts its own nats-server (Debian's), and this process answers
// `calc.add` requests on it in a queue group, through a callback subscription (the NATS docs'
// faster form than the async iterator), JSON payloads. nats-server's CPU and RSS count as the
// server's: every call goes through it.
import { connect } from '@nats-io/transport-node';
import { serveBenchmark } from '../lib/server-process.js';
import { NATS_ADD_SUBJECT, startNatsServer } from '../lib/nats-broker.js';

serveBenchmark(async () => {
  const broker = await startNatsServer();
  const nc = await connect({ servers: `127.0.0.1:${broker.port}` });
  nc.subscribe(NATS_ADD_SUBJECT, {
    queue: 'calc',
    callback: (err, msg) => {
      if (err) return;
      const { a, b } = msg.json();
      msg.respond(JSON.stringify(a + b));
    },
  });
  await nc.flush();
  const close = async () => {
    await nc.drain();
    broker.stop();
  };
  return { address: { host: '127.0.0.1', port: broker.port }, close, helperPids: [broker.pid] };
});
