import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './config.js';
import { createLogger } from './logger.js';

function capture(): { lines: Record<string, unknown>[]; write(s: string): void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes JSON lines with service, level label and time', () => {
    const dest = capture();
    const log = createLogger('mapping', { destination: dest, env: {} });
    log.info({ vm: 'vm-1' }, 'hello');
    log.debug('hidden at info');
    assert.equal(dest.lines.length, 1);
    const [line] = dest.lines;
    assert.equal(line?.service, 'mapping');
    assert.equal(line?.level, 'info');
    assert.equal(line?.msg, 'hello');
    assert.equal(line?.vm, 'vm-1');
    assert.equal(typeof line?.time, 'string');
  });

  it('takes the level from VNET_LOG_LEVEL', () => {
    const dest = capture();
    const log = createLogger('mapping', { destination: dest, env: { VNET_LOG_LEVEL: 'debug' } });
    log.debug('shown');
    assert.equal(dest.lines.length, 1);
  });

  it('rejects a bad VNET_LOG_LEVEL', () => {
    assert.throws(
      () => createLogger('mapping', { env: { VNET_LOG_LEVEL: 'loud' } }),
      (err: unknown) => err instanceof ConfigError && /^VNET_LOG_LEVEL="loud": expected one of fatal\|/.test(err.message),
    );
  });
});
