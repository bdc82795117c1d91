// Encode and decode speed of the codecs, with JSON for scale. Run `pnpm build` first: this
// imports the built packages, as an application would.
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { environment } from './lib/environment.js';
import { int } from './lib/format.js';
import { markdownTable } from './lib/markdown-table.js';
import { measure } from './lib/measure.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** What applications without a binary codec do; the same Codec shape. */
const jsonCodec = {
  name: 'JSON',
  encode: (value) => textEncoder.encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(textDecoder.decode(bytes)),
};

const codecs = [msgpackCodec, cborCodec, jsonCodec];

/** What `Calculator.add` sends: the typed api's own benchmark call (issue 19). */
const add = { a: 1, b: 2 };

const small = { id: 48213, method: 'Calculator.add', ok: true, score: 0.875, tags: ['fast', 'retry'] };

const medium = {
  orderId: 'ord_7f3a9c21',
  createdAt: 1_717_000_000_000,
  customer: { id: 99121, name: 'Ada Lovelace', email: 'ada@example.org', vip: false },
  shipping: { street: '12 Analytical Engine Way', city: 'London', zip: 'N1 9GU', country: 'GB' },
  items: Array.from({ length: 10 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    title: `Widget model ${i} with a moderately long descriptive title`,
    price: 9.99 + i * 3.5,
    quantity: 1 + (i % 4),
    tags: ['hardware', i % 2 ? 'blue' : 'red', 'warehouse-3'],
  })),
  notes: 'Leave at the front desk if nobody answers. Fragile: contains glass.',
  totals: { net: 412.35, tax: 82.47, gross: 494.82, currency: 'GBP' },
};

const payloads = [
  ['add', add],
  ['small', small],
  ['medium', medium],
];

function rowsFor(name, value) {
  const sizes = codecs.map((c) => c.encode(value).length).join(' / ');
  const label = `${name} (${sizes} B)`;
  const encode = codecs.map((c) => measure(() => c.encode(value)));
  const decode = codecs.map((c) => {
    const bytes = c.encode(value);
    return measure(() => c.decode(bytes));
  });
  return [
    [label, 'encode', ...encode.map(int)],
    [label, 'decode', ...decode.map(int)],
  ];
}

function main() {
  const rows = payloads.flatMap(([name, value]) => rowsFor(name, value));
  const header = ['payload (size msgpack / cbor / JSON)', 'op', ...codecs.map((c) => `${c.name} ops/s`)];
  console.log(environment('node benchmarks/codec.js'));
  console.log('');
  console.log(markdownTable(header, rows, 2));
}

main();
