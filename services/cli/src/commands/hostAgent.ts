/**
 * `vnet host-agent --host <id>`: runs one host agent in the foreground (as a process of its
 * own, the way it runs on a real host); Ctrl-C stops it.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { action, natsUrl } from '../connect';
import { HOST_AGENT_ENTRY, REPO_ROOT } from '../services';

export function registerHostAgent(program: Command): void {
  program
    .command('host-agent')
    .description(
      'Run the host agent of one host: it folds its slice of the log into tunnel tables and ' +
        'carries the packets of its VMs (Geneve over UDP on the host\'s underlay address).',
    )
    .requiredOption('--host <id>', 'the host this agent runs, as registered (e.g. h1)')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--underlay <host:port>', 'address to bind (default: the underlay of its HostRegistered event)')
    .option('--http-port <port>', 'health, metrics and /tables (default: an ephemeral port, logged)', '0')
    .addHelpText('after', '\nExample:\n  $ npx vnet host-agent --host h1 --http-port 7111\n  $ curl 127.0.0.1:7111/tables')
    .action(
      action(async (opts: { host: string; nats?: string; underlay?: string; httpPort: string }) => {
        const child = spawn(process.execPath, ['--import', 'tsx', HOST_AGENT_ENTRY], {
          cwd: REPO_ROOT,
          stdio: 'inherit',
          env: {
            ...process.env,
            NATS_URL: natsUrl(opts.nats),
            VNET_HOST_ID: opts.host,
            VNET_HTTP_PORT: opts.httpPort,
            ...(opts.underlay ? { VNET_UNDERLAY: opts.underlay } : {}),
          },
        });
        const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
        process.on('SIGINT', forward('SIGINT'));
        process.on('SIGTERM', forward('SIGTERM'));
        const code = await new Promise<number>((res) => child.on('exit', (c, sig) => res(c ?? (sig ? 1 : 0))));
        process.exit(code);
      }),
    );
}
