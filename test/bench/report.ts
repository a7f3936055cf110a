/**
 * What every benchmark prints the same way: a catalogue event built (and validated) from a
 * plain object, the table of figures, and the load average before and after.
 */
import { loadavg } from 'node:os';
import type { DomainEvent } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';

/** A catalogue event from a plain object, validated (a benchmark writes what the services read). */
export const benchEvent = (type: string, payload: Record<string, unknown>, schemaVersion = 1): DomainEvent => eventFrom(type, payload, { schemaVersion });

/** Prints rows as a table: the first is the header (underlined), the first column left-aligned. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log('');
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log('');
}

/** The 1-minute load average now, to print before and after a run. */
export const loadNow = (): string => loadavg()[0]!.toFixed(2);

/** The closing line with the load before and after (a busy machine makes noisy figures). */
export function printLoad(before: string): void {
  console.log(`- load average (1 min): ${before} before, ${loadNow()} after${Number(before) > 0.5 ? '  (something else was running: expect noise)' : ''}`);
}
