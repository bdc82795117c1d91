/**
 * `p`, or after `ms` a rejection in `words()`: a scenario waiting on something the transport
 * never reported fails with what the kit saw, before vitest's own timeout cuts it short with
 * no words at all. Timing decides nothing: the bound only turns a hang into a failure.
 */
export function bounded<T>(p: Promise<T>, ms: number, words: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(words())), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
