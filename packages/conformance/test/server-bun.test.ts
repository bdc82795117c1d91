import { describeConformance } from './conformance.js';
import { MATRIX } from './matrix.js';

// The rows of the matrix whose server runs on Bun; one file per server runtime, so that a run can
// be narrowed to one runtime and vitest may run the three side by side.
for (const row of MATRIX.filter((r) => r.server.runtime === 'bun')) describeConformance(row);
