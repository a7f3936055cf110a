/**
 * Creating VMs through the graph, and the graph's shape from the rest of the log.
 *
 * Topology mirror (durable subscriptions on `region`, `datacenter`, `host`, `network`, `vm`, `image`):
 * a region, a datacenter (the region owns it), a host with its CPUs and memory (its
 * datacenter owns it), a network (its project owns it) with its subnet (the network owns it,
 * the network's CIDR as its addresses), an image (the regions that have it use it). Drained
 * and removed hosts take no new VMs. A VM placed from outside the graph takes its address
 * from the subnet for its NIC (so the graph never hands it out again); a VM deleted, or a
 * placement the mapping service rejected, gives back all it and its NIC held.
 *
 * `InstancesRequested` (durable subscription on `instances`, one request at a time per id):
 * 1. the project (with an instance quota), the network and the region must exist;
 * 2. the image must be in the region: if not, `ImageReplicationRequested`, then wait for the
 *    copy (`ImageReplicated`; `ImageReplicationFailed` or the deadline fails the request);
 * 3. hosts are chosen in the region (most CPUs left first);
 * 4. per VM: its node (the project owns it; it uses its host) and its NIC (the VM owns it; it
 *    uses the subnet), then one instance of quota from the project, CPUs and memory from the
 *    host, an address from the subnet for the NIC (the address becomes a node too: the subnet
 *    owns it, the NIC uses it): each an allocation decided by the provider node, one at a
 *    time per node;
 * 5. all granted: `VmPlaced` for each (the mapping service and host agents take it from
 *    there) and `InstancesCreated`. Any refusal: every VM node made for the request is
 *    deleted, which releases all it got (each release an event), and
 *    `InstancesRequestFailed` says why: nothing stays half-allocated.
 * Every write's id derives from the request, so a request handled again (after a crash)
 * writes nothing twice and ends the same way.
 */
import {
  cidrContains,
  mustDecode,
  newEvent,
  NonNegativeInt,
  streamNameOf,
  type DomainEvent,
  type EventOf,
  type InstancesFailureReason,
  type NodeRef,
  type PayloadOf,
} from '@vnet/events';
import { describeAppendError, type EventStore, type Subscription } from '@vnet/eventstore';
import { derivedEventId } from '@vnet/runner';
import * as E from 'fp-ts/lib/Either.js';
import { ipString, keyOf as keyOfRef, nodeOf, type Graph } from '../domain/graph';
import { hostsOfRegion, planHosts, regionRoom } from '../domain/placement';
import type { Cause, GraphOps } from './manager';

export interface InstancesOptions {
  /** How long a request waits for its image to be copied into the region (default 10 min). */
  readonly imageWaitMs?: number;
  readonly onError?: (e: Error) => void;
  readonly onOutcome?: (outcome: 'created' | InstancesFailureReason, vms: number) => void;
}

export interface InstancesFlow {
  stop(): Promise<void>;
}

interface NetworkInfo {
  readonly projectId: string;
  readonly vni: number;
  readonly cidr: string;
}

const node = (kind: NodeRef['kind'], id: string): NodeRef => ({ kind, id }) as NodeRef;
/** Deliveries of a request before a failure half way ends it (with its rollback). */
const MAX_DELIVER = 5;
/** A VM's (one) network interface. */
const nicOf = (vmId: string): NodeRef => node('nic', `${vmId}-0`);

export async function startInstancesFlow(store: EventStore<DomainEvent>, ops: GraphOps, o: InstancesOptions = {}): Promise<InstancesFlow> {
  const onError = o.onError ?? (() => undefined);
  const imageWaitMs = o.imageWaitMs ?? 600_000;
  const graph: Graph = ops.graph;
  const networks = new Map<string, NetworkInfo>();
  const unavailableHosts = new Set<string>();
  /** Image → regions where it is ready. */
  const images = new Map<string, Set<string>>();
  /** Image/region → failed replication (attempt and when), for waiting requests. */
  const imageFailures = new Map<string, { readonly at: number; readonly detail: string }>();
  /** Image/region → the latest copy attempt begun (a failure of an older one is not the end). */
  const imageAttempts = new Map<string, number>();

  const foldImage = (e: DomainEvent): void => {
    if (e.type === 'ImageUploaded' || e.type === 'ImageReplicated') {
      let regions = images.get(e.payload.imageId);
      if (!regions) images.set(e.payload.imageId, (regions = new Set()));
      regions.add(e.payload.regionId);
    }
    else if (e.type === 'ImageReplicationStarted') imageAttempts.set(`${e.payload.imageId}/${e.payload.toRegionId}`, e.payload.attempt);
    else if (e.type === 'ImageReplicationFailed' && e.payload.attempt >= (imageAttempts.get(`${e.payload.imageId}/${e.payload.toRegionId}`) ?? 0)) {
      imageFailures.set(`${e.payload.imageId}/${e.payload.toRegionId}`, { at: Date.parse(e.occurredAt), detail: `${e.payload.reason}: ${e.payload.detail}` });
    }
  };
  /** Networks, hosts that take no VMs, images: what every instance must know, read from the log itself (not from the shared subscriptions, which each instance sees a part of). */
  const foldView = (e: DomainEvent): void => {
    if (e.type === 'NetworkCreated') networks.set(e.payload.networkId, { projectId: e.payload.projectId, vni: e.payload.vni, cidr: e.payload.cidr });
    else if (e.type === 'HostDrained' || e.type === 'HostRemoved') unavailableHosts.add(e.payload.hostId);
    else if (e.type === 'HostRegistered') unavailableHosts.delete(e.payload.hostId);
    else foldImage(e);
  };
  const ac = new AbortController();
  const readers: Array<Promise<void>> = [];
  for (const ctx of ['network', 'host', 'image']) {
    let last = 0;
    for await (const r of store.readAll({ filter: `vnet.evt.${ctx}.>` })) {
      foldView(r.event);
      last = r.position;
    }
    readers.push(
      store
        .forEachEvent({ filter: `vnet.evt.${ctx}.>`, fromPosition: last + 1, live: true, signal: ac.signal }, (r) => foldView(r.event))
        .catch((err: unknown) => {
          if (!ac.signal.aborted) onError(new Error(`${ctx} reader stopped: ${err instanceof Error ? err.message : String(err)}`));
        }),
    );
  }

  /** Appends an event under an id derived from its cause (stored once however often). */
  const append = async (cause: Cause, ev: DomainEvent, key: string): Promise<void> => {
    const withId = { ...ev, id: derivedEventId('resource-manager', cause.id, ev.type, key) } as DomainEvent;
    const r = await store.appendToStream(streamNameOf(withId), [withId]);
    if (E.isLeft(r)) throw new Error(`could not write ${ev.type}: ${describeAppendError(r.left)}`);
  };
  const meta = (cause: Cause) => ({ causationId: cause.id, correlationId: cause.correlationId });

  /** The address as a node: the subnet owns it, the NIC that got it uses it. */
  const recordAddress = async (cause: Cause, networkId: string, nic: NodeRef, ip: string): Promise<void> => {
    const addr = node('ip', `${networkId}-${ip.replaceAll('.', '-')}`.slice(0, 63));
    const id = derivedEventId('resource-manager', cause.id, 'address', keyOfRef(nic));
    await ops.record({ id, correlationId: cause.correlationId, type: cause.type }, [
      { kind: 'ResourceNodeAdded', node: addr, capacity: {} },
      { kind: 'ResourceLinked', from: node('subnet', networkId), to: addr, relation: 'owns' },
      { kind: 'ResourceLinked', from: nic, to: addr, relation: 'uses' },
    ]);
  };

  // ------------------------------------------------------------ topology mirror
  /** True when the VM was deleted, or its placement rejected, after log position `position`. */
  const goneAfter = async (vmId: string, position: number): Promise<boolean> => {
    for await (const r of store.readStream(`vm.${vmId}`, { fromRevision: position + 1 })) {
      if (r.event.type === 'VmDeleted' || r.event.type === 'VmPlacementRejected') return true;
    }
    return false;
  };

  const mirror = async (e: DomainEvent, position: number): Promise<void> => {
    const facts: Parameters<GraphOps['record']>[1][number][] = [];
    switch (e.type) {
      case 'RegionDeclared':
        facts.push({ kind: 'ResourceNodeAdded', node: node('region', e.payload.regionId), capacity: {} });
        break;
      case 'DatacenterDeclared':
        facts.push(
          { kind: 'ResourceNodeAdded', node: node('datacenter', e.payload.datacenterId), capacity: {} },
          { kind: 'ResourceLinked', from: node('region', e.payload.regionId), to: node('datacenter', e.payload.datacenterId), relation: 'owns' },
        );
        break;
      case 'HostRegistered': {
        const c = e.payload.capacity;
        facts.push(
          { kind: 'ResourceNodeAdded', node: node('host', e.payload.hostId), capacity: c ? { cpus: c.cpus, memoryMiB: c.memoryMiB } : {} },
          { kind: 'ResourceLinked', from: node('datacenter', e.payload.datacenterId), to: node('host', e.payload.hostId), relation: 'owns' },
        );
        break;
      }
      case 'NetworkCreated': {
        const p = e.payload;
        facts.push(
          { kind: 'ResourceNodeAdded', node: node('network', p.networkId), capacity: {} },
          { kind: 'ResourceNodeAdded', node: node('subnet', p.networkId), capacity: { ips: p.cidr } },
          { kind: 'ResourceLinked', from: node('project', p.projectId), to: node('network', p.networkId), relation: 'owns' },
          { kind: 'ResourceLinked', from: node('network', p.networkId), to: node('subnet', p.networkId), relation: 'owns' },
        );
        break;
      }
      case 'VmPlaced': {
        // A VM placed from outside the graph keeps its address: the subnet hands out that one
        // to the VM's NIC. (The graph's own VMs exist already, with theirs.)
        const vm = node('vm', e.payload.vmId);
        await ops.catchUp(vm);
        const existing = nodeOf(graph, vm);
        if (existing && !existing.deleted) return;
        // Retried (its subnet came late) after the VM was already deleted or rejected: nothing to hold.
        if (await goneAfter(e.payload.vmId, position)) return;
        const subnet = node('subnet', e.payload.networkId);
        await ops.catchUp(subnet);
        // The network's subnet may not be mirrored yet (another subscription): tried again later.
        if (!nodeOf(graph, subnet)) throw new Error(`subnet ${e.payload.networkId} is not in the graph yet`);
        const nic = nicOf(e.payload.vmId);
        await ops.record(e, [
          { kind: 'ResourceNodeAdded', node: vm, capacity: {} },
          { kind: 'ResourceNodeAdded', node: nic, capacity: {} },
          { kind: 'ResourceLinked', from: vm, to: nic, relation: 'owns' },
          { kind: 'ResourceLinked', from: nic, to: subnet, relation: 'uses' },
        ]);
        await ops.allocate(e, { allocationId: `${e.payload.vmId}-ip` as never, provider: subnet, holder: nic, resource: 'ips', amount: 1 as never, ip: e.payload.ip });
        await recordAddress(e, e.payload.networkId, nic, e.payload.ip);
        return;
      }
      case 'ImageUploaded':
      case 'ImageReplicated': {
        facts.push(
          { kind: 'ResourceNodeAdded', node: node('image', e.payload.imageId), capacity: {} },
          { kind: 'ResourceLinked', from: node('region', e.payload.regionId), to: node('image', e.payload.imageId), relation: 'uses' },
        );
        break;
      }
      case 'VmDeleted':
      case 'VmPlacementRejected': {
        // The VM is gone (or never was): what it held goes back.
        const vm = node('vm', e.payload.vmId);
        await ops.catchUp(vm);
        if (nodeOf(graph, vm) && !nodeOf(graph, vm)!.deleted) await ops.deleteNode(e, vm);
        return;
      }
      default:
        return;
    }
    await ops.record(e, facts);
  };
  const subs: Subscription[] = [];
  for (const ctx of ['region', 'datacenter', 'host', 'network', 'vm', 'image']) {
    // Patient: a VM's network may be mirrored by another subscription a little later.
    subs.push(await store.subscribe({ name: `resource-manager-${ctx}`, filter: `vnet.evt.${ctx}.>`, maxDeliver: 120, retryDelayMs: 500 }, async (r) => mirror(r.event, r.position)));
  }

  // ------------------------------------------------------------ instances
  const ended = async (requestId: string): Promise<boolean> => {
    for await (const r of store.readStream(`instances.${requestId}`)) if (r.event.type === 'InstancesCreated' || r.event.type === 'InstancesRequestFailed') return true;
    return false;
  };

  const fail = async (e: EventOf<'InstancesRequested'>, reason: InstancesFailureReason, detail: string, released: number): Promise<void> => {
    await append(e, newEvent('InstancesRequestFailed', { requestId: e.payload.requestId, reason, detail, released: mustDecode(NonNegativeInt, released) }, meta(e)), '');
    o.onOutcome?.(reason, 0);
  };

  /** Reads a subject into the view (a request may come before the live readers saw what it names). */
  const refresh = async (stream: string): Promise<void> => {
    for await (const r of store.readStream(stream)) foldView(r.event);
  };

  /** Waits until the image is in the region; undefined when it is, else why not. */
  const imageInRegion = async (e: EventOf<'InstancesRequested'>): Promise<string | undefined> => {
    const { imageId, regionId } = e.payload;
    if (!images.get(imageId)?.has(regionId)) await refresh(`image.${imageId}`);
    if (images.get(imageId)?.has(regionId)) return undefined;
    if (!images.has(imageId)) return `image ${imageId} was never uploaded`;
    const askedAt = Date.now();
    await append(e, newEvent('ImageReplicationRequested', { imageId: e.payload.imageId, regionId: e.payload.regionId, reason: `instances ${e.payload.requestId}` }, meta(e)), '');
    for (const end = askedAt + imageWaitMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      if (images.get(imageId)?.has(regionId)) return undefined;
      const f = imageFailures.get(`${imageId}/${regionId}`);
      if (f && f.at >= askedAt - 1000) return `copying ${imageId} to ${regionId} failed (${f.detail})`;
    }
    return `${imageId} was not copied to ${regionId} within ${imageWaitMs} ms`;
  };

  const create = async (e: EventOf<'InstancesRequested'>, deliveryCount: number): Promise<void> => {
    const p = e.payload;
    if (await ended(p.requestId)) return;
    if (!networks.has(p.networkId)) await refresh(`network.${p.networkId}`);
    const net = networks.get(p.networkId);
    if (!net) return fail(e, 'unknown-network', `network ${p.networkId} was never created`, 0);
    if (net.projectId !== p.projectId) return fail(e, 'unknown-network', `network ${p.networkId} belongs to project ${net.projectId}, not ${p.projectId}`, 0);
    const projectRef = node('project', p.projectId);
    await ops.catchUp(projectRef);
    const project = nodeOf(graph, projectRef);
    if (!project || project.deleted || project.capacity.instances === undefined) {
      return fail(e, 'unknown-project', `project ${p.projectId} has no instance quota in the resource graph (ResourceNodeAdded project/${p.projectId} with capacity.instances)`, 0);
    }
    const hosts = hostsOfRegion(graph, p.regionId, unavailableHosts);
    if (!graph.nodes.get(`region/${p.regionId}`)?.revision) return fail(e, 'unknown-region', `region ${p.regionId} was never declared`, 0);
    const whyNoImage = await imageInRegion(e);
    if (whyNoImage !== undefined) return fail(e, 'image-unavailable', whyNoImage, 0);
    // A VM of this request that has its host already (the request handled again after a
    // crash) keeps it; the others are planned on what is left.
    const kept = new Map<number, NodeRef>();
    for (let i = 0; i < p.count; i++) {
      await ops.catchUp(node('vm', `${p.requestId}-${i + 1}`));
      const vm = graph.nodes.get(`vm/${p.requestId}-${i + 1}`);
      const host = vm && !vm.deleted ? [...vm.uses.values()].find((r) => r.kind === 'host') : undefined;
      if (host) kept.set(i, host);
    }
    const rest = planHosts(hostsOfRegion(graph, p.regionId, unavailableHosts), p.count - kept.size, p.size);
    if (!rest) return fail(e, 'no-capacity', `${p.count} VMs of ${p.size.cpus} CPUs and ${p.size.memoryMiB} MiB do not fit on region ${p.regionId}'s ${regionRoom(hosts)}`, 0);

    const subnet = node('subnet', p.networkId);
    const vms = Array.from({ length: p.count }, (_, i) => ({ vmId: `${p.requestId}-${i + 1}`, host: kept.get(i) ?? rest.shift()! }));
    const refusal = async (): Promise<{ reason: InstancesFailureReason; detail: string } | undefined> => {
      for (const { vmId, host } of vms) {
        const vm = node('vm', vmId);
        const nic = nicOf(vmId);
        await ops.record({ id: derivedEventId('resource-manager', e.id, 'vm', vmId), correlationId: e.correlationId, type: e.type }, [
          { kind: 'ResourceNodeAdded', node: vm, capacity: {} },
          { kind: 'ResourceNodeAdded', node: nic, capacity: {} },
          { kind: 'ResourceLinked', from: projectRef, to: vm, relation: 'owns' },
          { kind: 'ResourceLinked', from: vm, to: nic, relation: 'owns' },
          { kind: 'ResourceLinked', from: nic, to: subnet, relation: 'uses' },
          { kind: 'ResourceLinked', from: vm, to: host, relation: 'uses' },
        ]);
        // Quota, CPUs and memory for the VM; the address for its NIC.
        const asks: Array<[NodeRef, NodeRef, PayloadOf<'AllocationRequested'>['resource'], number, string, InstancesFailureReason]> = [
          [projectRef, vm, 'instances', 1, 'quota', 'quota-exceeded'],
          [host, vm, 'cpus', p.size.cpus, 'cpus', 'no-capacity'],
          [host, vm, 'memoryMiB', p.size.memoryMiB, 'memory', 'no-capacity'],
          [subnet, nic, 'ips', 1, 'ip', 'no-addresses'],
        ];
        for (const [provider, holder, resource, amount, tag, reason] of asks) {
          const allocationId = `${vmId}-${tag}` as PayloadOf<'AllocationRequested'>['allocationId'];
          await ops.allocate(e, { allocationId, provider, holder, resource, amount: amount as never });
          const n = nodeOf(graph, provider);
          if (!n?.allocations.has(allocationId)) return { reason, detail: `${provider.kind}/${provider.id} refused ${amount} ${resource} to ${vmId}` };
        }
        await recordAddress(e, p.networkId, nic, ipString(nodeOf(graph, subnet)!.allocations.get(`${vmId}-ip` as never)!.ip!));
      }
      return undefined;
    };
    let refused: { reason: InstancesFailureReason; detail: string } | undefined;
    try {
      refused = await refusal();
    } catch (err) {
      // The store failed us half way: handled again later (it resumes where it was), and on
      // the last delivery the request fails rather than leave anything held.
      if (deliveryCount < MAX_DELIVER) throw err;
      refused = { reason: 'error', detail: `allocation failed ${deliveryCount} times, last: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (refused) {
      // Nothing half-allocated: each VM node made for the request goes, with all it and its
      // NIC hold (a rollback that fails throws: the request is handled again).
      let released = 0;
      for (const { vmId } of vms) released += await ops.deleteNode(e, node('vm', vmId));
      return fail(e, refused.reason, refused.detail, released);
    }
    const placed = vms.map(({ vmId, host }) => {
      const ip = nodeOf(graph, subnet)!.allocations.get(`${vmId}-ip` as never)!.ip!;
      return { vmId, hostId: host.id, ip: ipString(ip) };
    });
    for (const v of placed) {
      if (!cidrContains(net.cidr as never, v.ip as never)) throw new Error(`bug: ${v.ip} is outside ${net.cidr}`);
      await append(e, newEvent('VmPlaced', { vmId: v.vmId, networkId: p.networkId, vni: net.vni, ip: v.ip, hostId: v.hostId } as never, meta(e)), v.vmId);
    }
    await append(e, newEvent('InstancesCreated', { requestId: p.requestId, regionId: p.regionId, imageId: p.imageId, vms: placed } as never, meta(e)), '');
    o.onOutcome?.('created', placed.length);
  };

  subs.push(
    await store.subscribe(
      // A request may wait for its image: the ack wait covers that (see subscribe.ts).
      { name: 'resource-manager-instances', filter: 'vnet.evt.instances.>', ackWaitMs: imageWaitMs + 60_000, maxDeliver: MAX_DELIVER, retryDelayMs: 1000 },
      async (r, deliveryCount) => {
        if (r.event.type === 'InstancesRequested') await create(r.event, deliveryCount);
      },
      { key: (r) => ('requestId' in r.event.payload ? String(r.event.payload.requestId) : ''), maxInFlight: 16 },
    ),
  );

  return {
    stop: async () => {
      for (const s of subs) await s.stop();
      ac.abort();
      await Promise.all(readers);
    },
  };
}
