/**
 * `vnet`: the operator's command line. Wires the commands; each lives in src/commands/.
 */
import { Command } from 'commander';
import { registerAudit } from './commands/audit';
import { registerHostAgent } from './commands/hostAgent';
import { registerImages } from './commands/images';
import { registerKeys } from './commands/keys';
import { registerMigrate } from './commands/migrate';
import { registerPublish } from './commands/publish';
import { registerStatus } from './commands/status';
import { registerTail } from './commands/tail';
import { registerUp } from './commands/up';

const program = new Command()
  .name('vnet')
  .description(
    'vnet — an event-sourced control plane for virtual-machine networks. ' +
        'Every fact is an event in NATS JetStream; every table and view is a fold over that log.\n\n' +
        'Connects to NATS_URL (default nats://127.0.0.1:4222) unless a command says otherwise.',
  )
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

registerUp(program);
registerPublish(program);
registerTail(program);
registerStatus(program);
registerHostAgent(program);
registerAudit(program);
registerKeys(program);
registerMigrate(program);
registerImages(program);

program.addHelpText(
  'after',
  `
Examples:
  $ npx vnet up                        run nats-server, the services and a demo topology
  $ npx vnet publish host.json         validate an event and publish it
  $ echo '{...}' | npx vnet publish -  the same from standard input
  $ npx vnet tail                      follow the log, one line per event
  $ npx vnet status                    hosts, VMs per host, tunnel table sizes
  $ npx vnet host-agent --host h1      run one host's agent in the foreground
  $ npx vnet audit pair web-1 db-1     the history of a pair: decisions, tokens, revocations
  $ npx vnet keys rotate web-1         a new secret key for a VM, now
  $ npx vnet keys new-host h9 --out h9.json   a host key pair (prints the public key to register)
  $ npx vnet migrate blue-1 --to h3    move a running VM; the steps, the blackout, the packets lost
  $ npx vnet image push disk.img --region eu-west   upload an image (progress bar), record it
  $ npx vnet image replicate disk --region us-east  copy it to another region, digest checked
  $ npx vnet images                    the image catalogue: regions that have each image
  $ npx vnet vms --region us-east      the VMs of a region`,
);

await program.parseAsync(process.argv);
