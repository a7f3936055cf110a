/**
 * `vnet host-agent --host <id>`: runs one host agent in the foreground (as a process of its
 * own, the way it runs on a real host); Ctrl-C stops it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, action, natsUrl } from '../connect';
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
    .option(
      '--key-file <path>',
      "the host's X25519 key pair (JSON; its public key is the one in HostRegistered). Default: $VNET_HOST_KEY_FILE, else <data dir>/keys/<host>.json",
    )
    .option('--data-dir <dir>', 'where `vnet up` keeps its data (and demo host keys)', '.vnet')
    .addHelpText(
      'after',
      '\nEvery packet between hosts carries its pair\'s token, so the agent needs its host key pair\n' +
        '(`npx vnet keys new-host <host> --out <file>` makes one and prints the public key to register).\n' +
        '\nExample:\n  $ npx vnet host-agent --host h1 --http-port 7111\n  $ curl 127.0.0.1:7111/tables',
    )
    .action(
      action(async (opts: { host: string; nats?: string; underlay?: string; httpPort: string; keyFile?: string; dataDir: string }) => {
        const keyFile = resolve(opts.keyFile ?? process.env.VNET_HOST_KEY_FILE ?? join(opts.dataDir, 'keys', `${opts.host}.json`));
        if (!existsSync(keyFile)) {
          throw new CliError(
            `no key pair for host ${opts.host} at ${keyFile}: give --key-file (or VNET_HOST_KEY_FILE); ` +
              `\`npx vnet keys new-host ${opts.host} --out ${keyFile}\` makes one and prints the public key to put in its HostRegistered`,
          );
        }
        const child = spawn(process.execPath, ['--import', 'tsx', HOST_AGENT_ENTRY], {
          cwd: REPO_ROOT,
          stdio: 'inherit',
          env: {
            ...process.env,
            NATS_URL: natsUrl(opts.nats),
            VNET_HOST_ID: opts.host,
            VNET_HOST_KEY_FILE: keyFile,
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
