// Child process for runtime.int.spec.ts: starts a runtime with signal handling and prints
// markers (lines starting with "FIXTURE ") so the parent can follow what happened.
import { createLogger, startServiceRuntime } from '../index.js';

const say = (s: string): void => void process.stdout.write(`FIXTURE ${s}\n`);
const rt = await startServiceRuntime({
  service: 'fixture',
  httpPort: 0,
  hookTimeoutMs: 200,
  logger: createLogger('fixture', { level: 'silent' }),
});
rt.onShutdown(() => say('hook first-registered'), { name: 'first' });
if (process.env.FIXTURE_FAIL === '1') {
  rt.onShutdown(() => {
    throw new Error('boom');
  }, { name: 'failing' });
}
rt.onShutdown(async () => {
  await new Promise((r) => setTimeout(r, 20));
  say('hook last-registered');
}, { name: 'last' });
rt.setReady(true);
say(`started ${rt.url}`);
