import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostId, mustDecode, pairIdOf, type PairId } from '@vnet/events';
import { initialState, prunePairs, withIssued } from './state';

const h2 = mustDecode(HostId, 'h2');
const pair = (n: number): PairId => pairIdOf(7, 0x0a000001, 0x0a000000 + n);

describe('token issuer state', () => {
  it('prunes the pair records no living token needs, and only those', () => {
    const s = initialState();
    withIssued(s, pair(1), h2, 1000);
    withIssued(s, pair(2), h2, 2000);
    s.voided.set(pair(3), 1500);
    s.voided.set(pair(4), 999);
    prunePairs(s, 1200);
    assert.deepEqual([...s.issued.keys()], [pair(2)], 'tokens of pair 1 all expired before 1200');
    assert.deepEqual([...s.voided.keys()], [pair(3)], 'a token made from 1200 on expires after 999 anyway');
  });

  it('keeps the latest expiry per pair', () => {
    const s = initialState();
    withIssued(s, pair(1), h2, 1000);
    withIssued(s, pair(1), h2, 900);
    assert.equal(s.issued.get(pair(1))?.maxExpiry, 1000);
  });
});
