// Runs the snippets end to end: `pnpm --filter @skein/example-getting-started start`.
import { callShop } from './call.js';
import { serve } from './serve.js';

const { server, port } = await serve();
console.log(`tea costs ${await callShop(port)}`);
await server.close();
