import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PairTable, type PairToken } from './pairs';

const K = { vni: 7, src: 0x0a000001, dst: 0x0a000002 };
const tok = (expiry: number, keyId = 1): PairToken => ({ dstUnderlay: '127.0.1.2:6081', keyId, expiry, token: new Uint8Array(16).fill(keyId) });
const T0 = 1_900_000_000_000; // ms

describe('pair table (source host)', () => {
  it('holds packets on a miss, asks once, and releases them in order when the token comes', () => {
    const t = new PairTable<number>({ queuePerPair: 3 });
    assert.deepEqual(t.miss(K, 1, T0), { request: K });
    assert.deepEqual(t.miss(K, 2, T0 + 1), {});
    assert.deepEqual(t.miss(K, 3, T0 + 2), {});
    assert.deepEqual(t.miss(K, 4, T0 + 3), { drop: { reason: 'queue-full', packets: [4] } });
    const token = tok(T0 / 1000 + 300);
    assert.deepEqual(t.token(K, token, T0), { send: { token, packets: [1, 2, 3] } });
    assert.equal(t.tokenFor(K, T0 + 10), token);
    assert.equal(t.size, 1);
  });

  it('a denial drops what was held and drops new packets for a while, without asking again', () => {
    const t = new PairTable<number>({ deniedForMs: 5000 });
    t.miss(K, 1, T0);
    assert.deepEqual(t.denied(K, T0 + 10), { drop: { reason: 'denied', packets: [1] } });
    assert.deepEqual(t.miss(K, 2, T0 + 4000), { drop: { reason: 'denied', packets: [2] } });
    assert.deepEqual(t.miss(K, 3, T0 + 5011), { request: K }, 'asks again once the denial is old');
  });

  it('an unanswered request drops its queue; after a back-off that doubles each time, a packet asks again', () => {
    const t = new PairTable<number>({ requestTimeoutMs: 3000 });
    t.miss(K, 1, T0);
    assert.deepEqual(t.miss(K, 2, T0 + 1000), {});
    const r = t.tick(T0 + 3000);
    assert.deepEqual(r.drops, [{ reason: 'request-timeout', packets: [1, 2] }]);
    assert.deepEqual(t.miss(K, 3, T0 + 3500), { drop: { reason: 'request-timeout', packets: [3] } }, 'within 1 s of the time-out');
    assert.deepEqual(t.miss(K, 4, T0 + 4001), { request: K });
    t.tick(T0 + 7001); // unanswered again: 2 s of quiet now
    assert.deepEqual(t.miss(K, 5, T0 + 8500).drop?.reason, 'request-timeout');
    assert.deepEqual(t.miss(K, 6, T0 + 9002), { request: K });
    t.token(K, tok(T0 / 1000 + 300), T0 + 9100);
    assert.equal(t.tokenFor(K, T0 + 9200)?.expiry, T0 / 1000 + 300, 'a token resets the back-off');
  });

  it('denials back off: twice as long after each one in a row, up to a minute', () => {
    const t = new PairTable<number>({ deniedForMs: 2000 });
    let now = T0;
    assert.equal(t.miss(K, 0, now).request, K);
    const gaps: number[] = [];
    for (let i = 1; i <= 7; i++) {
      t.denied(K, now);
      let wait = 0;
      while (t.miss(K, i, now + wait).drop) wait += 250; // dropped as denied until a request goes out
      gaps.push(wait);
      now += wait;
    }
    assert.deepEqual(gaps, [2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it('renews only a pair in use; an idle one is let expire and forgotten', () => {
    const t = new PairTable<number>({ renewBeforeS: 30 });
    t.miss(K, 1, T0);
    t.token(K, tok(T0 / 1000 + 100), T0);
    assert.deepEqual(t.tick(T0 + 71_000, () => false).requests, [], 'idle: no renewal');
    assert.deepEqual(t.tick(T0 + 72_000, () => true).requests, [K], 'in use: renewed');
    const u = new PairTable<number>({ renewBeforeS: 30 });
    u.miss(K, 1, T0);
    u.token(K, tok(T0 / 1000 + 100), T0);
    for (let s = 71; s < 200; s++) assert.deepEqual(u.tick(T0 + s * 1000, () => false).requests, []);
    assert.equal(u.size, 0, 'forgotten once long expired');
  });

  it('renews before expiry with one request, keeps sending with the old token, never installs an older one', () => {
    const t = new PairTable<number>({ renewBeforeS: 30 });
    const first = tok(T0 / 1000 + 100, 1);
    t.miss(K, 1, T0);
    t.token(K, first, T0);
    assert.deepEqual(t.tick(T0 + 60_000).requests, [], 'not yet: 40 s left');
    assert.deepEqual(t.tick(T0 + 71_000).requests, [K], '29 s left: renew');
    assert.deepEqual(t.tick(T0 + 72_000).requests, [], 'one request, not one per tick');
    assert.equal(t.tokenFor(K, T0 + 72_000), first, 'the old token carries traffic meanwhile');
    const second = tok(T0 / 1000 + 400, 2);
    t.token(K, second, T0);
    assert.equal(t.tokenFor(K, T0 + 99_000), second);
    assert.deepEqual(t.token(K, first, T0), {}, 'a late answer does not replace a newer token');
    assert.equal(t.tokenFor(K, T0 + 99_000), second);
    assert.equal(t.tokenFor(K, (T0 / 1000 + 400) * 1000), undefined, 'not past its expiry');
  });

  it('renews a short-lived token a third of its lifetime before it expires, not at every tick', () => {
    const t = new PairTable<number>({ renewBeforeS: 30 });
    t.miss(K, 1, T0);
    t.token(K, tok(T0 / 1000 + 12), T0);
    assert.deepEqual(t.tick(T0 + 7_000).requests, [], '5 s of 12 left');
    assert.deepEqual(t.tick(T0 + 8_100).requests, [K], 'under 4 s left');
  });

  it('a revocation forgets the pair and drops what was held', () => {
    const t = new PairTable<number>();
    t.miss(K, 1, T0);
    assert.deepEqual(t.revoked(K), { drop: { reason: 'revoked', packets: [1] } });
    t.token(K, tok(T0 / 1000 + 300), T0);
    assert.deepEqual(t.revoked(K), {});
    assert.equal(t.tokenFor(K, T0), undefined);
    assert.equal(t.size, 0);
  });

  it('forgets idle entries and long-expired pairs', () => {
    const t = new PairTable<number>({ renewBeforeS: 30, requestTimeoutMs: 1000 });
    t.miss(K, 1, T0);
    t.tick(T0 + 1000); // request timed out, queue dropped
    t.tick(T0 + 1001);
    assert.equal(t.miss(K, 2, T0 + 2001).request, K, 'asks again after the back-off');
    t.token(K, tok(T0 / 1000 + 10), T0);
    t.tick(T0 + 100_000);
    assert.equal(t.size, 0);
  });
});
