// With a Standard Schema (zod here), arguments are checked on both sides and types are inferred.
import { method, service } from '@skein/api';
import { z } from 'zod';

export const Accounts = service('Accounts', {
  open: method({
    input: z.object({ owner: z.string().min(2), deposit: z.number().nonnegative() }),
    output: z.object({ id: z.number().int() }),
  }),
});
// createClient(Accounts, stream, { codec }).open({ owner: 'x', deposit: 5 })
// rejects before sending: InvalidArgument "Accounts.open: invalid argument: owner: Too small..."
