import os from 'node:os';

/** One line saying where and how a benchmark ran, to print above its table. */
export function environment(command) {
  const m = machine(command);
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, \`${command}\`, ${m.date.slice(0, 10)}`;
}

/** The machine block of a results file: what ran where, and when. */
export function machine(command) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    date: new Date().toISOString(),
    command,
  };
}
