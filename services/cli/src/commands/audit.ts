/**
 * `vnet audit pair <src> <dst>`: the history of one virtual network pair, read from the log —
 * requests, decisions with their rule and policy version, tokens issued (key id and expiry;
 * the sealed token itself is never printed), revocations. A pair is (VNI, source address,
 * destination address); its events live on `hostpairs.<source host>.<pair id>`.
 */
import type { Command } from 'commander';
import { ipv4ToInt, pairIdOf, streamNameOf, type DomainEvent, type EventOf } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { CliError, action, connectStore, natsUrl } from '../connect';

interface AuditOptions {
  nats?: string;
  vni?: string;
  json?: boolean;
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Where a VM was last placed (vni, ip), from its `vm.<id>` stream; placements the mapping
 * service rejected do not count. */
async function placementOf(store: EventStore<DomainEvent>, vmId: string): Promise<{ vni: number; ip: string } | undefined> {
  const placed: Array<{ id: string; vni: number; ip: string }> = [];
  const rejected = new Set<string>();
  for await (const r of store.readStream(`vm.${vmId}`)) {
    const e = r.event;
    if (e.type === 'VmPlaced') placed.push({ id: e.id, vni: e.payload.vni, ip: e.payload.ip });
    else if (e.type === 'VmPlacementRejected' && e.causationId !== null) rejected.add(e.causationId);
  }
  return placed.filter((p) => !rejected.has(p.id)).at(-1);
}

/** The pair's (vni, src ip, dst ip) from VM ids, or addresses with --vni. */
async function resolvePair(store: EventStore<DomainEvent>, src: string, dst: string, vniFlag?: string) {
  if (vniFlag !== undefined) {
    const vni = Number(vniFlag);
    if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new CliError(`--vni ${JSON.stringify(vniFlag)}: expected an integer 0..16777215`);
    for (const [what, ip] of [['source', src], ['destination', dst]] as const) {
      if (!IPV4.test(ip)) throw new CliError(`${what} ${JSON.stringify(ip)}: with --vni, give virtual IPv4 addresses (e.g. 10.0.0.5)`);
    }
    return { vni, srcIp: src, dstIp: dst };
  }
  const [a, b] = await Promise.all([placementOf(store, src), placementOf(store, dst)]);
  if (!a) throw new CliError(`no VM ${JSON.stringify(src)} was ever placed (give VM ids, or addresses with --vni)`);
  if (!b) throw new CliError(`no VM ${JSON.stringify(dst)} was ever placed (give VM ids, or addresses with --vni)`);
  if (a.vni !== b.vni) throw new CliError(`${src} is in VNI ${a.vni} and ${dst} in VNI ${b.vni}: a pair lies within one VNI`);
  return { vni: a.vni, srcIp: a.ip, dstIp: b.ip };
}

type PairEvent = EventOf<'PairRequested' | 'PairAuthorized' | 'PairDenied' | 'PairRevoked' | 'PairTokenIssued'>;

/** One line of the history (never the sealed token). */
export function auditLine(e: PairEvent): string {
  const p = e.payload;
  switch (e.type) {
    case 'PairRequested':
      return `requested   by host ${p.hostId} for VM ${e.payload.srcVmId}`;
    case 'PairAuthorized':
      return `authorised  rule ${e.payload.ruleId ?? 'default (same network)'}, policy v${e.payload.policyVersion}; destination ${e.payload.dstVmId} on ${e.payload.dstHostId} at ${e.payload.dstUnderlay}`;
    case 'PairDenied':
      return `denied      ${e.payload.reason}, rule ${e.payload.ruleId ?? 'default'}, policy v${e.payload.policyVersion}: ${e.payload.detail}`;
    case 'PairTokenIssued':
      return `token       key id ${e.payload.keyId}, expires ${new Date(e.payload.expiry * 1000).toISOString()}, valid at ${e.payload.dstUnderlay}`;
    case 'PairRevoked':
      return `revoked     ${e.payload.reason}, rule ${e.payload.ruleId ?? 'default'}, policy v${e.payload.policyVersion}`;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** What --json prints of an event: everything but the sealed token. */
function publicView(e: PairEvent, position: number, stream: string): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...e.payload };
  delete payload.sealedToken;
  return { position, at: e.occurredAt, stream, type: e.type, payload };
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Answer "who could reach what, when, and why" from the log.');
  audit
    .command('pair <src> <dst>')
    .description(
      'The history of a virtual network pair: requests, decisions (rule, policy version), tokens issued (key id, expiry; never the token), revocations. ' +
        '<src> and <dst> are VM ids, or virtual IPv4 addresses with --vni.',
    )
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--vni <n>', 'the VNI, when <src> and <dst> are addresses')
    .option('--json', 'one JSON line per event (without the sealed token)')
    .addHelpText('after', '\nExamples:\n  $ npx vnet audit pair web-1 db-1\n  $ npx vnet audit pair 10.0.0.5 10.0.0.6 --vni 1001 --json')
    .action(
      action(async (src: string, dst: string, opts: AuditOptions) => {
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-audit');
        try {
          const { vni, srcIp, dstIp } = await resolvePair(store, src, dst, opts.vni);
          const pairId = pairIdOf(vni, ipv4ToInt(srcIp), ipv4ToInt(dstIp));
          let n = 0;
          if (!opts.json) process.stdout.write(`pair ${pairId}: VNI ${vni}, ${srcIp} -> ${dstIp}\n`);
          // Any source host: a VM that moved asked from more than one.
          for await (const r of store.readAll({ filter: `vnet.evt.hostpairs.*.${pairId}` })) {
            const e = r.event as PairEvent;
            n++;
            process.stdout.write(
              opts.json ? `${JSON.stringify(publicView(e, r.position, streamNameOf(e)))}\n` : `${String(r.position).padStart(7)}  ${e.occurredAt}  ${auditLine(e)}\n`,
            );
          }
          if (n === 0 && !opts.json) process.stdout.write('no history: this pair was never requested\n');
        } finally {
          await store.close();
        }
      }),
    );
}
