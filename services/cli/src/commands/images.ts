/**
 * The global computing interface from the command line:
 * - `vnet image push <file> --region <r>`: the bytes into the region's object store bucket
 *   (hashed, then uploaded, each with a progress bar), then `ImageUploaded` in the catalogue;
 * - `vnet image replicate <image> --region <r>`: asks for a copy and follows it (progress bar)
 *   until the image is there, digest checked;
 * - `vnet images`: the catalogue: every image, its size and digest, the regions that have it
 *   and the copies under way;
 * - `vnet vms --region <r>`: the VMs of a region's hosts, with network, address and host (and
 *   image and size for those started through the graph).
 */
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { DomainEvent, EventOf } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { fileDigest, openImageBucket, putImageFile } from '@vnet/images';
import { CliError, action, connectStore, externalEvent, natsUrl, publishExternal } from '../connect';

const MIB = 1024 * 1024;

/** A progress bar on stderr (plain lines, a few a second, when stderr is not a terminal). */
function bar(label: string, totalBytes: number): SingleBar {
  const b = new SingleBar({
    format: `${label.padEnd(11)} [{bar}] {percentage}% | {done}/{all} MiB | {rate} MiB/s | eta {eta_formatted}`,
    barsize: 30,
    stream: process.stderr,
    noTTYOutput: !process.stderr.isTTY,
    notTTYSchedule: 1000,
    hideCursor: true,
  });
  const t0 = Date.now();
  b.start(totalBytes, 0, { done: '0.0', all: (totalBytes / MIB).toFixed(1), rate: '-' });
  const update = b.update.bind(b);
  b.update = ((value: number) =>
    update(value, { done: (value / MIB).toFixed(1), rate: (value / MIB / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1) })) as SingleBar['update'];
  return b;
}

/** An image id from a file name: lowercase, a-z 0-9 _ -, at most 63 characters. */
export function imageIdFromFile(path: string): string {
  const stem = basename(path).replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 63);
  if (!stem) throw new CliError(`cannot make an image id from ${JSON.stringify(path)}: give one with --id`);
  return stem;
}

interface ImageRow {
  name: string;
  size: number;
  digest: string;
  regions: Map<string, string>;
}

/** The image catalogue, folded from the log (what the image-replication service keeps). */
async function readCatalogue(url: string): Promise<Map<string, ImageRow>> {
  const store = await connectStore(url, 'vnet-cli-images');
  const out = new Map<string, ImageRow>();
  try {
    for await (const r of store.readAll({ filter: 'vnet.evt.image.>' })) {
      const e = r.event;
      if (!('imageId' in e.payload)) continue;
      const id = e.payload.imageId as string;
      let row = out.get(id);
      if (!row) out.set(id, (row = { name: '', size: 0, digest: '', regions: new Map() }));
      switch (e.type) {
        case 'ImageUploaded':
          Object.assign(row, { name: e.payload.name, size: e.payload.size, digest: e.payload.digest });
          row.regions.set(e.payload.regionId, 'ready');
          break;
        case 'ImageReplicationStarted':
          row.regions.set(e.payload.toRegionId, 'copying 0%');
          break;
        case 'ImageReplicationProgress':
          row.regions.set(e.payload.toRegionId, `copying ${Math.floor((e.payload.copied / e.payload.size) * 100)}%`);
          break;
        case 'ImageReplicated':
          row.regions.set(e.payload.regionId, 'ready');
          break;
        case 'ImageReplicationFailed':
          if (row.regions.get(e.payload.toRegionId) !== 'ready') row.regions.set(e.payload.toRegionId, `failed: ${e.payload.reason}`);
          break;
        default:
          break;
      }
    }
  } finally {
    await store.close();
  }
  return out;
}

/** A CliError unless the region was declared (a typo would otherwise make a bucket nobody uses). */
async function mustBeRegion(store: EventStore<DomainEvent>, regionId: string): Promise<void> {
  for await (const r of store.readStream(`region.${regionId}`)) if (r.event.type === 'RegionDeclared') return;
  throw new CliError(`region ${regionId} is not declared (publish RegionDeclared first; \`npx vnet vms\` lists the regions with VMs)`);
}

function table(head: readonly string[], rows: readonly string[][]): void {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [head, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd()}\n`);
}

export function registerImages(program: Command): void {
  const image = program.command('image').description('VM images in the global catalogue: upload one to a region, copy one to another region');

  image
    .command('push')
    .description('Upload an image file into a region\'s object store and record it (ImageUploaded: digest, size) in the global catalogue.')
    .argument('<file>', 'the image file')
    .requiredOption('--region <region>', 'region whose bucket takes the bytes (vnet_images_<region>)')
    .option('--id <imageId>', 'image id (default: from the file name)')
    .option('--name <name>', 'display name (default: the file name)')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .addHelpText('after', `
Example:
  $ npx vnet image push ./debian-12.qcow2 --region eu-west
  $ npx vnet images

The file is read twice: once for its SHA-256, once to upload it (1 MiB chunks). The image
appears in the bucket only when the upload is complete, and the catalogue records it only
when the digest of the bytes uploaded matched the file's. The region must be declared
(RegionDeclared). Starting VMs from it in another region copies
it there first (npx vnet image replicate does that ahead of time).`)
    .action(
      action(async (file: string, opts: { region: string; id?: string; name?: string; nats?: string }) => {
        const st = await stat(file).catch(() => undefined);
        if (!st?.isFile()) throw new CliError(`${file}: no such file`);
        if (st.size === 0) throw new CliError(`${file} is empty: an image has at least one byte`);
        const imageId = opts.id ?? imageIdFromFile(file);
        const name = opts.name ?? basename(file);
        // Checked before any byte moves: the event the catalogue will get (digest filled in below).
        externalEvent('ImageUploaded', { imageId, name, regionId: opts.region, digest: '0'.repeat(64), size: st.size });
        const hashing = bar('hashing', st.size);
        const local = await fileDigest(file);
        hashing.update(local.size);
        hashing.stop();
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-image-push');
        try {
          await mustBeRegion(store, opts.region);
          const bucket = (await openImageBucket(store, opts.region, true))!;
          const uploading = bar('uploading', st.size);
          const up = await putImageFile(bucket, imageId, file, { onProgress: (n) => uploading.update(n), progressEveryMs: 100 });
          uploading.stop();
          if (up.digest !== local.digest) {
            await bucket.delete(imageId).catch(() => undefined);
            throw new CliError(`${file} changed while it was uploaded (sha256 ${local.digest} before, ${up.digest} uploaded): nothing recorded`);
          }
          const ev = externalEvent('ImageUploaded', { imageId, name, regionId: opts.region, digest: up.digest, size: up.size });
          await publishExternal(store, ev);
          process.stdout.write(`uploaded   ${imageId} (${name}) to ${opts.region}: ${up.size} bytes, sha256 ${up.digest}\n`);
        } finally {
          await store.close();
        }
      }),
    );

  image
    .command('replicate')
    .description('Copy an image to a region (ImageReplicationRequested) and follow the copy until it is there, digest checked.')
    .argument('<imageId>', 'image id')
    .requiredOption('--region <region>', 'the region that needs it')
    .option('--timeout <ms>', 'how long to follow it', '600000')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .action(
      action(async (imageId: string, opts: { region: string; timeout: string; nats?: string }) => {
        const timeoutMs = Number(opts.timeout);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout ${JSON.stringify(opts.timeout)}: expected a positive number of milliseconds`);
        const ev = externalEvent('ImageReplicationRequested', { imageId, regionId: opts.region, reason: 'vnet image replicate' });
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-image-replicate');
        const ac = new AbortController();
        try {
          await mustBeRegion(store, opts.region);
          const t0 = Date.now();
          await publishExternal(store, ev);
          let progress: SingleBar | undefined;
          let end: DomainEvent | undefined;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            store
              .forEachEvent({ filter: `vnet.evt.image.${imageId}`, live: true, signal: ac.signal }, (r) => {
                const e = r.event;
                if (e.type === 'ImageReplicationStarted' && e.payload.toRegionId === opts.region && Date.parse(e.occurredAt) >= t0 - 1000) {
                  progress?.stop();
                  process.stderr.write(`copying ${imageId} from ${e.payload.fromRegionId} to ${opts.region} (attempt ${e.payload.attempt})\n`);
                  progress = bar('copying', e.payload.size);
                } else if (e.type === 'ImageReplicationProgress' && e.payload.toRegionId === opts.region) progress?.update(e.payload.copied);
                else if ((e.type === 'ImageReplicated' && e.payload.regionId === opts.region) || (e.type === 'ImageReplicationFailed' && e.payload.toRegionId === opts.region && Date.parse(e.occurredAt) >= t0 - 1000)) {
                  if (e.type === 'ImageReplicated') progress?.update(e.payload.size);
                  end = e;
                  clearTimeout(timer);
                  resolve();
                }
              })
              .catch(() => resolve());
          });
          progress?.stop();
          if (!end) throw new CliError(`${imageId} did not reach ${opts.region} within ${timeoutMs} ms: is the image-replication service running?`);
          const done = end as EventOf<'ImageReplicated'> | EventOf<'ImageReplicationFailed'>;
          if (done.type === 'ImageReplicationFailed') throw new CliError(`copy of ${imageId} to ${opts.region} failed: ${done.payload.reason} (${done.payload.detail})`);
          process.stdout.write(`replicated ${imageId} in ${opts.region}: ${done.payload.size} bytes from ${done.payload.fromRegionId}, digest checked, copy took ${done.payload.tookMs} ms\n`);
        } finally {
          ac.abort();
          await store.close();
        }
      }),
    );

  program
    .command('images')
    .description('The global image catalogue: each image, its size and SHA-256, the regions that have it and the copies under way.')
    .option('--json', 'one JSON object per image')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .action(
      action(async (opts: { json?: boolean; nats?: string }) => {
        const cat = [...(await readCatalogue(natsUrl(opts.nats)))].filter(([, r]) => r.digest !== '').sort(([a], [b]) => a.localeCompare(b));
        if (opts.json) {
          for (const [id, r] of cat) process.stdout.write(`${JSON.stringify({ imageId: id, name: r.name, size: r.size, sha256: r.digest, regions: Object.fromEntries(r.regions) })}\n`);
          return;
        }
        if (cat.length === 0) {
          process.stdout.write('no image yet (`npx vnet image push <file> --region <r>` uploads one)\n');
          return;
        }
        table(
          ['IMAGE', 'NAME', 'SIZE', 'SHA256', 'REGIONS'],
          cat.map(([id, r]) => [id, r.name, `${(r.size / MIB).toFixed(1)} MiB`, `${r.digest.slice(0, 12)}…`, [...r.regions].map(([reg, s]) => (s === 'ready' ? reg : `${reg} (${s})`)).join(', ')]),
        );
      }),
    );

  program
    .command('vms')
    .description('VMs by region: each VM on a host of the region, with its network, address and host, and for VMs started by InstancesRequested their image and size (from the log).')
    .option('--region <region>', 'only this region')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .action(
      action(async (opts: { region?: string; nats?: string }) => {
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-vms');
        const hostRegion = new Map<string, string>();
        const vms = new Map<string, { networkId: string; ip: string; hostId: string }>();
        /** What VMs made for a request for instances were made of. */
        const requests = new Map<string, { imageId: string; size: string }>();
        const made = new Map<string, { imageId: string; size: string }>();
        try {
          for await (const r of store.readAll({})) {
            const e = r.event;
            if (e.type === 'InstancesRequested') requests.set(e.payload.requestId, { imageId: e.payload.imageId, size: `${e.payload.size.cpus} CPU / ${e.payload.size.memoryMiB} MiB` });
            else if (e.type === 'InstancesCreated') for (const v of e.payload.vms) made.set(v.vmId, requests.get(e.payload.requestId) ?? { imageId: e.payload.imageId, size: '?' });
            else if (e.type === 'HostRegistered') hostRegion.set(e.payload.hostId, e.payload.regionId);
            else if (e.type === 'VmPlaced') vms.set(e.payload.vmId, { networkId: e.payload.networkId, ip: e.payload.ip, hostId: e.payload.hostId });
            else if (e.type === 'VmDeleted') vms.delete(e.payload.vmId);
            else if (e.type === 'VmMoved') {
              const v = vms.get(e.payload.vmId);
              if (v) v.hostId = e.payload.toHostId;
            }
          }
        } finally {
          await store.close();
        }
        const rows = [...vms]
          .map(([vmId, v]) => ({ vmId, ...v, regionId: hostRegion.get(v.hostId) ?? '?' }))
          .filter((v) => opts.region === undefined || v.regionId === opts.region)
          .sort((a, b) => a.regionId.localeCompare(b.regionId) || a.vmId.localeCompare(b.vmId));
        if (rows.length === 0) {
          process.stdout.write(opts.region === undefined ? 'no VM yet\n' : `no VM in region ${opts.region}${[...hostRegion.values()].includes(opts.region) ? '' : ' (no host is registered there)'}\n`);
          return;
        }
        table(
          ['REGION', 'VM', 'NETWORK', 'IP', 'HOST', 'IMAGE', 'SIZE'],
          rows.map((v) => [v.regionId, v.vmId, v.networkId, v.ip, v.hostId, made.get(v.vmId)?.imageId ?? '-', made.get(v.vmId)?.size ?? '-']),
        );
      }),
    );
}
