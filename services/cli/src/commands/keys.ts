/**
 * `vnet keys rotate <vm...>`: asks for a new secret key for each VM now. Publishes one
 * `VmKeyRotationRequested` per VM (each with its own id: asking twice rotates twice) for the
 * gateway to store, then waits for the token issuer's answer: a `VmKeyIssued` (reason
 * `rotated`) caused by the request, sealed to the VM's host. Tokens made with the earlier key
 * keep checking until they expire; tokens issued from now on use the new key.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { validateExternal, type DomainEvent } from '@vnet/events';
import { describeAppendError, type EventStore } from '@vnet/eventstore';
import { generateHostKeyPair } from '@vnet/tokens';
import { CliError, action, connectStore, natsUrl } from '../connect';

interface RotateOptions {
  nats?: string;
  reason?: string;
  wait: boolean;
  timeout: string;
}

/** The VmKeyIssued caused by request `id`, from the hosts' key streams, or undefined. */
async function keyIssuedFor(store: EventStore<DomainEvent>, id: string): Promise<{ keyId: number; hostId: string } | undefined> {
  for await (const r of store.readAll({ filter: 'vnet.evt.hostkeys.>' })) {
    const e = r.event;
    if (e.type === 'VmKeyIssued' && e.causationId === id) return { keyId: e.payload.keyId, hostId: e.payload.hostId };
  }
  return undefined;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("host key pairs and VMs' secret keys (the keys pair tokens are made with)");
  keys
    .command('new-host')
    .description(
      "Make a host's X25519 key pair: writes it to --out (mode 0600, never overwrites) and prints the public " +
        'key to put in the host\'s HostRegistered (`publicKey`). The host agent opens VM keys and pair tokens with it.',
    )
    .argument('<host>', 'host id (for the message only)')
    .requiredOption('--out <file>', 'where to write the key pair (JSON)')
    .action(
      action(async (host: string, opts: { out: string }) => {
        if (existsSync(opts.out)) throw new CliError(`${opts.out} exists: not overwritten (a host keeps its key pair; remove the file first to replace it)`);
        mkdirSync(dirname(opts.out), { recursive: true, mode: 0o700 });
        const pair = generateHostKeyPair();
        writeFileSync(opts.out, JSON.stringify(pair), { mode: 0o600, flag: 'wx' });
        process.stdout.write(`wrote      ${opts.out} (key pair of host ${host}, mode 0600)\npublicKey  ${pair.publicKey}\n`);
      }),
    );
  keys
    .command('rotate')
    .description(
      'Give each VM a new secret key now (key id + 1), sealed to the host that runs it. ' +
        'Tokens made with the old key keep checking until they expire; new tokens use the new key. ' +
        'Waits until the token issuer has issued each new key (--no-wait: only publish the requests).',
    )
    .argument('<vm...>', 'VM id(s)')
    .option('--reason <text>', 'why (stored with the request, shown by `vnet tail`)')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--no-wait', 'do not wait for the new keys')
    .option('--timeout <ms>', 'how long to wait for each new key', '10000')
    .addHelpText('after', `
Example:
  $ npx vnet keys rotate vm-blue-1 vm-blue-2 --reason "quarterly rotation"`)
    .action(
      action(async (vms: string[], opts: RotateOptions) => {
        const timeoutMs = Number(opts.timeout);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout ${JSON.stringify(opts.timeout)}: expected a positive number of milliseconds`);
        const events: DomainEvent[] = [];
        const problems: string[] = [];
        for (const vmId of vms) {
          const id = randomUUID();
          const raw = {
            type: 'VmKeyRotationRequested',
            schemaVersion: 1,
            id,
            causationId: null,
            correlationId: id,
            occurredAt: new Date().toISOString(),
            payload: { vmId, ...(opts.reason === undefined ? {} : { reason: opts.reason }) },
          };
          const d = validateExternal('vnet.ext.VmKeyRotationRequested', Buffer.from(JSON.stringify(raw), 'utf8'));
          if (E.isLeft(d)) problems.push(`VM ${JSON.stringify(vmId)}: ${d.left.reason}`);
          else events.push(d.right);
        }
        if (problems.length > 0) throw new CliError(`nothing was published:\n${problems.join('\n')}`);
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-keys');
        try {
          for (const ev of events) {
            const r = await store.publishRaw(`vnet.ext.${ev.type}`, Buffer.from(JSON.stringify(ev), 'utf8'), { msgId: ev.id });
            if (E.isLeft(r)) throw new CliError(`publishing the rotation of ${(ev.payload as { vmId: string }).vmId} failed: ${describeAppendError(r.left)}`);
            process.stdout.write(`requested  new key for ${(ev.payload as { vmId: string }).vmId}  id=${ev.id}\n`);
          }
          if (!opts.wait) return;
          const missing: string[] = [];
          for (const ev of events) {
            const vmId = (ev.payload as { vmId: string }).vmId;
            const end = Date.now() + timeoutMs;
            let issued = await keyIssuedFor(store, ev.id);
            while (!issued && Date.now() < end) {
              await new Promise((res) => setTimeout(res, 200));
              issued = await keyIssuedFor(store, ev.id);
            }
            if (issued) process.stdout.write(`rotated    ${vmId}: key ${issued.keyId}, sealed to host ${issued.hostId}\n`);
            else missing.push(vmId);
          }
          if (missing.length > 0) {
            throw new CliError(
              `no new key for ${missing.join(', ')} after ${timeoutMs} ms: is the VM placed, and are the gateway and token-issuer running? ` +
                '(`npx vnet tail` shows the request; the token-issuer log says why it issued nothing)',
            );
          }
        } finally {
          await store.close();
        }
      }),
    );
}
