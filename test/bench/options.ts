/**
 * Command-line options of the benchmarks, parsed with node's `util.parseArgs`: integer
 * options with a minimum (underscores allowed: `--events 1_000_000`), boolean flags and
 * string options. A mistake is a UsageError whose message says which option and why.
 */
import { parseArgs } from 'node:util';

/** A wrong command line (printed with the usage, exit code 2). */
export class UsageError extends Error {}

export interface OptionSpec<K extends string> {
  /** `--flag` → [key, minimum]. */
  readonly ints: Readonly<Record<string, readonly [K, number]>>;
  /** `--flag` → key (true when given). */
  readonly flags?: Readonly<Record<string, K>>;
  /** `--flag` → key (the raw string). */
  readonly strings?: Readonly<Record<string, K>>;
}

/** The options given (by key), or 'help' for `--help` / `-h`. */
export function parseBenchOptions<K extends string>(args: readonly string[], spec: OptionSpec<K>): Partial<Record<K, number | boolean | string>> | 'help' {
  const names = (r?: Readonly<Record<string, unknown>>) => Object.keys(r ?? {}).map((f) => f.replace(/^--/, ''));
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const n of [...names(spec.ints), ...names(spec.strings)]) options[n] = { type: 'string' };
  for (const n of names(spec.flags)) options[n] = { type: 'boolean' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return 'help';
  const out: Partial<Record<K, number | boolean | string>> = {};
  for (const [flag, [key, min]] of Object.entries(spec.ints)) {
    const raw = values[flag.replace(/^--/, '')];
    if (typeof raw !== 'string') continue;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
    out[key] = n;
  }
  for (const [flag, key] of Object.entries(spec.flags ?? {})) if (values[flag.replace(/^--/, '')] === true) out[key] = true;
  for (const [flag, key] of Object.entries(spec.strings ?? {})) {
    const raw = values[flag.replace(/^--/, '')];
    if (typeof raw === 'string') out[key] = raw;
  }
  return out;
}

/**
 * The options of a benchmark, or the exit code when it should stop: 0 after `--help`
 * (printed), 2 after a usage error (printed with the help).
 */
export function readOptions<O extends object, K extends string>(args: readonly string[], spec: OptionSpec<K>, defaults: O, help: string): O | number {
  try {
    const given = parseBenchOptions(args, spec);
    if (given === 'help') {
      console.log(help);
      return 0;
    }
    return { ...defaults, ...(given as Partial<O>) };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${help}`);
    return 2;
  }
}
