/**
 * Typed configuration from environment variables.
 *
 *   const cfg = loadConfig({
 *     natsUrl: { env: 'VNET_NATS_URL', kind: 'urls', default: ['nats://127.0.0.1:4222'] },
 *     batch:   { env: 'VNET_BATCH', kind: 'int', min: 1, max: 10_000, default: 256 },
 *   });
 *
 * An unset or empty variable takes the default; without a default it is an error unless the
 * field says `optional: true` (then the value is `undefined`). Every bad variable is reported
 * at once, each as `NAME="value": expected …`.
 */

interface FieldBase {
  /** Environment variable name, e.g. `VNET_HTTP_PORT`. */
  readonly env: string;
  /** When true and there is no default, an unset variable yields `undefined`. */
  readonly optional?: boolean;
  /** One line for humans (used in errors for missing variables). */
  readonly doc?: string;
}

export interface StringField extends FieldBase {
  readonly kind: 'string';
  readonly default?: string;
  /** Allowed values; anything else is an error. */
  readonly oneOf?: readonly string[];
}

export interface IntField extends FieldBase {
  readonly kind: 'int';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

export interface BoolField extends FieldBase {
  readonly kind: 'bool';
  readonly default?: boolean;
}

export interface UrlField extends FieldBase {
  readonly kind: 'url';
  readonly default?: string;
  /** Allowed schemes with the colon, e.g. `['http:', 'https:']`. Any scheme when omitted. */
  readonly protocols?: readonly string[];
}

/** A comma-separated list of URLs (e.g. the seed servers of a NATS cluster). */
export interface UrlListField extends FieldBase {
  readonly kind: 'urls';
  readonly default?: readonly string[];
  readonly protocols?: readonly string[];
}

export type ConfigField = StringField | IntField | BoolField | UrlField | UrlListField;
export type ConfigSpec = Readonly<Record<string, ConfigField>>;

type KindValue<F extends ConfigField> = F extends IntField
  ? number
  : F extends BoolField
    ? boolean
    : F extends UrlListField
      ? string[]
      : string;

type FieldValue<F extends ConfigField> = F extends { default: unknown }
  ? KindValue<F>
  : F extends { optional: true }
    ? KindValue<F> | undefined
    : KindValue<F>;

/** The typed result of `loadConfig(spec)`. */
export type Config<S extends ConfigSpec> = { readonly [K in keyof S]: FieldValue<S[K]> };

/** Thrown by `loadConfig`; `issues` holds one line per bad or missing variable. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(issues.length === 1 ? issues[0] : `invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

function expected(field: ConfigField): string {
  switch (field.kind) {
    case 'string':
      return field.oneOf ? `one of ${field.oneOf.join('|')}` : 'a string';
    case 'int': {
      const { min, max } = field;
      if (min !== undefined && max !== undefined) return `an integer ${min}..${max}`;
      if (min !== undefined) return `an integer >= ${min}`;
      if (max !== undefined) return `an integer <= ${max}`;
      return 'an integer';
    }
    case 'bool':
      return 'a boolean (true|false|1|0|yes|no|on|off)';
    case 'url':
      return field.protocols ? `a URL (${field.protocols.join(' or ')})` : 'a URL';
    case 'urls':
      return field.protocols
        ? `comma-separated URLs (${field.protocols.join(' or ')})`
        : 'comma-separated URLs';
  }
}

function isUrl(raw: string, protocols: readonly string[] | undefined): boolean {
  try {
    const u = new URL(raw);
    return !protocols || protocols.includes(u.protocol);
  } catch {
    return false;
  }
}

/** Parses one raw value; returns `undefined` when it does not fit the field. */
function parse(field: ConfigField, raw: string): unknown {
  switch (field.kind) {
    case 'string':
      return !field.oneOf || field.oneOf.includes(raw) ? raw : undefined;
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw)) return undefined;
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) return undefined;
      if (field.min !== undefined && n < field.min) return undefined;
      if (field.max !== undefined && n > field.max) return undefined;
      return n;
    }
    case 'bool': {
      const v = raw.toLowerCase();
      return TRUE.has(v) ? true : FALSE.has(v) ? false : undefined;
    }
    case 'url':
      return isUrl(raw, field.protocols) ? raw : undefined;
    case 'urls': {
      const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      return list.length > 0 && list.every((u) => isUrl(u, field.protocols)) ? list : undefined;
    }
  }
}

/**
 * Reads `spec` from `env` (default `process.env`). Throws a `ConfigError` naming every bad
 * variable, its value and what was expected, e.g. `VNET_HTTP_PORT="abc": expected an integer 0..65535`.
 */
export function loadConfig<const S extends ConfigSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Config<S> {
  const out: Record<string, unknown> = {};
  const issues: string[] = [];
  for (const [key, field] of Object.entries(spec)) {
    const raw = env[field.env]?.trim();
    if (raw === undefined || raw === '') {
      if (field.default !== undefined) {
        out[key] = Array.isArray(field.default) ? [...field.default] : field.default;
      } else if (field.optional) {
        out[key] = undefined;
      } else {
        issues.push(`${field.env} is not set: expected ${expected(field)}${field.doc ? ` (${field.doc})` : ''}`);
      }
      continue;
    }
    const value = parse(field, raw);
    if (value === undefined) issues.push(`${field.env}=${JSON.stringify(raw)}: expected ${expected(field)}`);
    else out[key] = value;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out as Config<S>;
}
