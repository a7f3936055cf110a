#!/usr/bin/env node
// Runs the *.spec.ts files of one project with node's test runner (TypeScript through tsx).
// Usage: node test/tools/run-tests.mjs <projectRoot> [--tier unit|int|e2e]
// The tier can also come from VNET_TEST_TIER. Totals are appended to VNET_TEST_RESULTS
// (a JSON-lines file) when it is set, so that .ci/run can print one closing line.
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const root = resolve(args[0] ?? '.');
const tierIdx = args.indexOf('--tier');
const tier = tierIdx >= 0 ? args[tierIdx + 1] : process.env.VNET_TEST_TIER;

function findSpecs(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findSpecs(p, out);
    else if (name.endsWith('.spec.ts') && (!tier || name.endsWith(`.${tier}.spec.ts`))) out.push(p);
  }
  return out;
}

const files = findSpecs(root).sort();
if (files.length === 0) {
  console.log(`no spec files under ${relative(process.cwd(), root) || '.'}${tier ? ` (tier ${tier})` : ''}`);
  process.exit(0);
}
const concurrency = process.env.VNET_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=240000', '--test-reporter=spec', ...files],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
// A file whose tests finished but left a handle open (a timer, a socket) would keep the run
// alive forever: stop it after a generous wall-clock limit and say so.
const limitMs = Number(process.env.VNET_TEST_WALL_MS ?? 10 * 60 * 1000);
const wall = setTimeout(() => {
  console.error(`\nrun-tests: ${relative(process.cwd(), root)} still running after ${limitMs / 1000} s: a test hangs or left a handle open; stopping it`);
  child.kill('SIGKILL');
}, limitMs);
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  clearTimeout(wall);
  const num = (k) => Number((tail.match(new RegExp(`ℹ ${k} (\\d+)`)) ?? [])[1] ?? 0);
  const totals = { project: relative(process.cwd(), root), pass: num('pass'), fail: num('fail'), skipped: num('skipped'), code };
  if (process.env.VNET_TEST_RESULTS) appendFileSync(process.env.VNET_TEST_RESULTS, JSON.stringify(totals) + '\n');
  process.exit(code ?? 1);
});
