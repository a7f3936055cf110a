import { pino, type DestinationStream, type Logger } from 'pino';
import { loadConfig } from './config.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Overrides VNET_LOG_LEVEL. */
  readonly level?: LogLevel;
  /** Where JSON lines go (default: stdout). Tests pass a stream to capture them. */
  readonly destination?: DestinationStream;
  /** Environment to read VNET_LOG_LEVEL from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * A pino logger writing one JSON object per line to stdout, every line carrying `service`.
 * The level comes from VNET_LOG_LEVEL (default `info`); a bad level throws a ConfigError.
 */
export function createLogger(service: string, opts: LoggerOptions = {}): Logger {
  const level =
    opts.level ??
    loadConfig(
      { level: { env: 'VNET_LOG_LEVEL', kind: 'string', oneOf: LOG_LEVELS, default: 'info' } },
      opts.env,
    ).level;
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
