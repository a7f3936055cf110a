/**
 * Starting nats-server: a server that cannot bind says why (the end of what it printed), and
 * one started on ports it chose itself answers its health check and stops cleanly.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startNatsServer } from '../src/index';

describe('startNatsServer', () => {
  it('starts on free ports, answers, and stops removing its temporary store', async () => {
    const s = await startNatsServer();
    assert.match(s.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.ok((await fetch(`http://127.0.0.1:${s.monitorPort}/healthz`)).ok);
    await s.stop();
    assert.equal(existsSync(s.storeDir), false);
  });

  it('a port that is taken: fails at once, with what the server said', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startNatsServer({ port }), /nats-server exited early with code 1: .*(address already in use|bind)/i);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
