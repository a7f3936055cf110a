/**
 * Writes schema/external-events.schema.json from the io-ts codecs.
 * Usage: npx nx run events:gen-schema   (or: npx tsx shared/events/scripts/gen-schema.ts [--check])
 * With --check it writes nothing and exits 1 when the committed file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderExternalSchema } from '../src/schema';

const target = fileURLToPath(new URL('../schema/external-events.schema.json', import.meta.url));
const text = renderExternalSchema();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // a missing file is out of date too
  }
  if (committed !== text) {
    console.error(`${target} is out of date; run: npx nx run events:gen-schema`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
