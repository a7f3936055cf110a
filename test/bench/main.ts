/**
 * Benchmark dispatcher: `npm run bench -- <name> [options]`.
 *
 * The first argument picks the benchmark; the rest is handed to it. `--help` (or no argument)
 * lists the benchmarks; `npm run bench -- <name> --help` shows that benchmark's options.
 * A benchmark measures and prints; it exits 0 even when a target is missed (it is not a test).
 *
 * Adding a benchmark: one entry in BENCHMARKS below (loaded lazily, so one benchmark's imports
 * never slow down another).
 */

/** What a benchmark module exports. */
export interface Benchmark {
  /** Runs with the arguments after the benchmark's name; resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

interface Entry {
  readonly summary: string;
  readonly load: () => Promise<Benchmark>;
}

const BENCHMARKS: Readonly<Record<string, Entry>> = {
  log: {
    summary: 'append and replay throughput of the event store client vs raw JetStream (targets: append >= 0.80, replay >= 0.70 of raw)',
    load: () => import('./log'),
  },
  'host-agent': {
    summary:
      'host agent: cold rebuild from N mappings vs raw consumption (>= 0.70, peak RSS < 512 MiB), snapshot restart vs replay (>= 10x), ' +
      'programming latency over 100 agents (p99 < 100 ms), data-plane forwarding vs a UDP relay (>= 0.70), with tokens vs without (>= 0.90)',
    load: () => import('./hostAgent'),
  },
  pairs: {
    summary: 'pair set-up latency, first packet to delivery over N new pairs through the whole control plane (target: p99 < 20 ms)',
    load: () => import('./pairs'),
  },
  migration: {
    summary: 'live-migration blackout over N migrations under load: packets lost and ms, p50/p99, vs the same stream without migrating (target: p99 lost < 50)',
    load: () => import('./migration'),
  },
  resources: {
    summary: 'resource manager: allocations per second on one node (target >= 2,000/s, each a durable event), over many nodes, with two instances; vs raw appends',
    load: () => import('./resources'),
  },
  images: {
    summary: 'image replication throughput through the image-replication service vs raw object-store get + put (target >= 0.9)',
    load: () => import('./images'),
  },
};

function usage(): string {
  const names = Object.keys(BENCHMARKS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'usage: npm run bench -- <benchmark> [options]      (options: npm run bench -- <benchmark> --help)',
    '',
    'benchmarks:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${BENCHMARKS[n]?.summary ?? ''}`),
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(BENCHMARKS, name) ? BENCHMARKS[name] : undefined;
  if (!entry) {
    console.error(`unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    console.error(usage());
    return 2;
  }
  const bench = await entry.load();
  return bench.run(rest);
}

// Exit explicitly: a benchmark that left a socket or timer behind must not hang the shell.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
