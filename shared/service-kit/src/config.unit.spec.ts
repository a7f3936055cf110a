import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

const spec = {
  port: { env: 'VNET_HTTP_PORT', kind: 'int', min: 0, max: 65535, default: 8080 },
  name: { env: 'VNET_NAME', kind: 'string', default: 'svc' },
  level: { env: 'VNET_LEVEL', kind: 'string', oneOf: ['a', 'b'], default: 'a' },
  debug: { env: 'VNET_DEBUG', kind: 'bool', default: false },
  nats: { env: 'VNET_NATS_URL', kind: 'urls', protocols: ['nats:', 'tls:'], default: ['nats://127.0.0.1:4222'] },
  api: { env: 'VNET_API_URL', kind: 'url', protocols: ['http:', 'https:'], optional: true },
} as const;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a throw');
}

describe('loadConfig', () => {
  it('uses defaults for unset and empty variables', () => {
    const cfg = loadConfig(spec, { VNET_NAME: '' });
    assert.deepEqual(cfg, {
      port: 8080,
      name: 'svc',
      level: 'a',
      debug: false,
      nats: ['nats://127.0.0.1:4222'],
      api: undefined,
    });
  });

  it('parses every kind', () => {
    const cfg = loadConfig(spec, {
      VNET_HTTP_PORT: '0',
      VNET_NAME: 'gateway',
      VNET_LEVEL: 'b',
      VNET_DEBUG: 'YES',
      VNET_NATS_URL: 'nats://127.0.0.1:4231, nats://127.0.0.1:4232',
      VNET_API_URL: 'https://example.test/api',
    });
    assert.equal(cfg.port, 0);
    assert.equal(cfg.name, 'gateway');
    assert.equal(cfg.level, 'b');
    assert.equal(cfg.debug, true);
    assert.deepEqual(cfg.nats, ['nats://127.0.0.1:4231', 'nats://127.0.0.1:4232']);
    assert.equal(cfg.api, 'https://example.test/api');
    // types: number, boolean, string[] | string | undefined
    const port: number = cfg.port;
    const debug: boolean = cfg.debug;
    const api: string | undefined = cfg.api;
    void [port, debug, api];
  });

  it('names the variable, the value and what was expected', () => {
    const err = errorOf(() => loadConfig(spec, { VNET_HTTP_PORT: 'abc' }));
    assert.equal(err.message, 'VNET_HTTP_PORT="abc": expected an integer 0..65535');
  });

  it('rejects out-of-range, fractional and unsafe integers', () => {
    for (const bad of ['65536', '-1', '1.5', '1e3', '99999999999999999999']) {
      const err = errorOf(() => loadConfig(spec, { VNET_HTTP_PORT: bad }));
      assert.match(err.message, /^VNET_HTTP_PORT=".*": expected an integer 0\.\.65535$/);
    }
  });

  it('reports every bad variable at once', () => {
    const err = errorOf(() =>
      loadConfig(spec, { VNET_DEBUG: 'maybe', VNET_LEVEL: 'c', VNET_NATS_URL: 'http://x', VNET_API_URL: 'not a url' }),
    );
    assert.deepEqual(err.issues, [
      'VNET_LEVEL="c": expected one of a|b',
      'VNET_DEBUG="maybe": expected a boolean (true|false|1|0|yes|no|on|off)',
      'VNET_NATS_URL="http://x": expected comma-separated URLs (nats: or tls:)',
      'VNET_API_URL="not a url": expected a URL (http: or https:)',
    ]);
    assert.match(err.message, /^invalid configuration:\n {2}VNET_LEVEL/);
  });

  it('requires variables without default that are not optional', () => {
    const err = errorOf(() =>
      loadConfig({ key: { env: 'VNET_KEY_FILE', kind: 'string', doc: 'path to the sealing key' } }, {}),
    );
    assert.equal(err.message, 'VNET_KEY_FILE is not set: expected a string (path to the sealing key)');
  });

  it('reads process.env by default', () => {
    process.env.VNET_SERVICE_KIT_TEST_VAR = '42';
    try {
      assert.equal(loadConfig({ v: { env: 'VNET_SERVICE_KIT_TEST_VAR', kind: 'int' } }).v, 42);
    } finally {
      delete process.env.VNET_SERVICE_KIT_TEST_VAR;
    }
  });
});
