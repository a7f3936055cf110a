/**
 * @vnet/service-kit: the runtime every vnet service shares: typed environment config, JSON
 * logging, Prometheus metrics, health/readiness endpoints and graceful shutdown.
 */
export {
  loadConfig,
  ConfigError,
  type Config,
  type ConfigSpec,
  type ConfigField,
  type StringField,
  type IntField,
  type BoolField,
  type UrlField,
  type UrlListField,
} from './config.js';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
export {
  startServiceRuntime,
  type ServiceRuntime,
  type ServiceRuntimeOptions,
  type ShutdownHook,
  type ShutdownHookOptions,
  type ShutdownOutcome,
} from './runtime.js';
