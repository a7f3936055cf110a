/**
 * The resource manager's loop. It keeps the graph (a fold of `vnet.evt.res.>`: rebuilt at
 * start, then followed live) and handles the requests (`vnet.evt.resreq.>`) through a durable
 * subscription shared by every instance, so each request goes to one instance.
 *
 * One message at a time per node, across instances: a decision on a node is written to the
 * node's subject expecting the node's revision (optimistic concurrency per subject). When
 * another instance wrote to that node meanwhile, the write is refused, the node is read up
 * to date, and the request is decided again. Every decision's id derives from the request
 * (and the node and allocation), so a request decided again after a crash, or by another
 * instance, writes nothing twice.
 *
 * A refusal for an unknown node or a missing link is written only after reading the nodes
 * involved up to date (they may have just been written by someone else). Allocations that
 * outlive their holder (an allocation decided while another instance deleted the holder) are
 * released when they are seen.
 */
import { newEvent, streamNameOf, type DomainEvent, type EventId, type EventOf, type NodeRef, type PayloadOf } from '@vnet/events';
import { describeAppendError, type EventStore, type RecordedEvent, type Subscription } from '@vnet/eventstore';
import { derivedEventId } from '@vnet/runner';
import * as E from 'fp-ts/lib/Either.js';
import { decideAllocation, decideDeletion, decideRelease, orphanedAllocations, type Decision } from '../domain/decide';
import { emptyGraph, evolve, isGraphEvent, keyOf, streamOfNode, type Graph } from '../domain/graph';

/** Conflicts (another writer on the node) tolerated per request before it is retried later. */
const MAX_ATTEMPTS = 50;
/** Decisions one request may write (a deletion writes one per release and per node deleted). */
const MAX_WRITES = 1_000_000;

export interface ManagerCounters {
  allocated: number;
  refused: number;
  released: number;
  deleted: number;
  conflicts: number;
}

/** What other parts of the resource manager (the instances flow, the topology mirror) do to the graph. */
export interface GraphOps {
  readonly graph: Graph;
  /** Reads a node's subject up to date. */
  catchUp(ref: NodeRef): Promise<void>;
  /** Decides and writes an allocation (or its refusal) on the provider, one at a time per node. */
  allocate(cause: Cause, p: PayloadOf<'AllocationRequested'>): Promise<void>;
  release(cause: Cause, p: PayloadOf<'ReleaseRequested'>): Promise<void>;
  /** Deletes a node and what it owns, releasing what they hold and handed out; resolves the releases. */
  deleteNode(cause: Cause, node: NodeRef): Promise<number>;
  /** Writes nodes and links (ids derived from the cause: writing them again stores nothing). */
  record(cause: Cause, facts: ReadonlyArray<EventOf<'ResourceNodeAdded' | 'ResourceLinked'>['payload'] & { readonly kind: 'ResourceNodeAdded' | 'ResourceLinked' }>): Promise<void>;
}

export interface ResourceManager {
  readonly graph: Graph;
  readonly ops: GraphOps;
  counters(): ManagerCounters;
  stop(): Promise<void>;
  /** Rejects when the manager stops by itself (its subscription or graph reader ended); resolves after `stop`. */
  readonly done: Promise<void>;
}

type Request = EventOf<'AllocationRequested' | 'ReleaseRequested' | 'ResourceDeletionRequested'>;

/** What caused a decision: a request, or the sweep of a deleted holder's allocations. */
export interface Cause {
  readonly id: EventId;
  readonly correlationId: EventId;
  readonly type: string;
}

export interface ManagerOptions {
  /** The durable subscription's name (shared by the instances of one deployment). */
  readonly subscription?: string;
  readonly onError?: (e: Error) => void;
  /** Requests in hand at once, on different nodes (default 256). */
  readonly maxInFlight?: number;
  /** Called after each request is handled (for metrics). */
  readonly onHandled?: (type: Request['type'], ms: number) => void;
}

export async function startResourceManager(store: EventStore<DomainEvent>, o: ManagerOptions = {}): Promise<ResourceManager> {
  const graph = emptyGraph();
  const c: ManagerCounters = { allocated: 0, refused: 0, released: 0, deleted: 0, conflicts: 0 };
  const onError = o.onError ?? (() => undefined);
  /** Holders found deleted with live allocations: released by `sweep`. */
  const orphans = new Map<string, NodeRef>();

  const fold = (e: DomainEvent, position: number): void => {
    if (!isGraphEvent(e)) return;
    evolve(graph, e, position);
    // An allocation whose holder is gone (or a holder deleted with allocations left): release.
    if (e.type === 'ResourceAllocated' && graph.nodes.get(keyOf(e.payload.holder))?.deleted) orphans.set(keyOf(e.payload.holder), e.payload.holder);
    if (e.type === 'ResourceNodeDeleted' && graph.held.has(keyOf(e.payload.node))) orphans.set(keyOf(e.payload.node), e.payload.node);
  };

  // Rebuild: the whole graph up to now.
  for await (const r of store.readAll({ filter: 'vnet.evt.res.>' })) fold(r.event, r.position);
  /** The last position the graph reader (rebuild, then live) folded: everything before it is in the graph. */
  let readerPosition = graph.position;

  /** Reads a node's subject up to date. */
  const catchUp = async (ref: NodeRef): Promise<void> => {
    const n = graph.nodes.get(keyOf(ref));
    for await (const r of store.readStream(streamOfNode(ref), { fromRevision: (n?.revision ?? 0) + 1 })) fold(r.event, r.position);
  };

  /** Writes one decision expecting the node's revision: 'written', or 'conflict' (the node was read up to date). */
  const write = async (d: Decision, cause: Cause, key: string): Promise<'written' | 'conflict'> => {
    const n = graph.nodes.get(keyOf(d.node));
    const expected = n?.revision ?? 0;
    const ev: DomainEvent = {
      ...newEvent(d.type as 'ResourceAllocated', d.payload as PayloadOf<'ResourceAllocated'>, { causationId: cause.id, correlationId: cause.correlationId }),
      id: derivedEventId('resource-manager', cause.id, d.type, `${keyOf(d.node)}/${key}`),
    };
    const r = await store.appendToStream(streamNameOf(ev), [ev], { expectedRevision: expected });
    if (E.isRight(r)) {
      // A duplicate (written before, by this request) is folded when read; the node is read anyway.
      if (r.right.duplicates > 0) {
        await catchUp(d.node);
        return 'written';
      }
      fold(ev, r.right.positions[0]!);
      if (d.type === 'ResourceAllocated') c.allocated++;
      else if (d.type === 'AllocationRefused') c.refused++;
      else if (d.type === 'ResourceReleased') c.released++;
      else c.deleted++;
      return 'written';
    }
    if (r.left._tag === 'WrongExpectedVersion') {
      c.conflicts++;
      await catchUp(d.node);
      return 'conflict';
    }
    throw new Error(`could not write ${d.type} on ${keyOf(d.node)}: ${describeAppendError(r.left)}`);
  };

  /**
   * Decides and writes until nothing is left to decide; after a conflict the next decision is
   * made on the node read up to date. Bounded: MAX_ATTEMPTS conflicts, MAX_WRITES writes.
   */
  const settle = async (cause: Cause, next: () => Decision | undefined, keyOf_: (d: Decision) => string, beforeRefusal?: () => Promise<void>): Promise<Decision[]> => {
    let checked = beforeRefusal === undefined;
    let conflicts = 0;
    const written: Decision[] = [];
    for (let writes = 0; writes < MAX_WRITES; writes++) {
      const d = next();
      if (!d) return written;
      if (d.type === 'AllocationRefused' && !checked && (d.payload.reason === 'unknown-node' || d.payload.reason === 'not-linked' || d.payload.reason === 'node-deleted')) {
        checked = true;
        await beforeRefusal!();
        continue;
      }
      const outcome = await write(d, cause, keyOf_(d));
      if (outcome === 'written') written.push(d);
      else if (++conflicts >= MAX_ATTEMPTS) {
        throw new Error(`${cause.type} ${cause.id}: still conflicting on ${keyOf(d.node)} after ${MAX_ATTEMPTS} attempts (retried later)`);
      }
    }
    throw new Error(`${cause.type} ${cause.id}: more than ${MAX_WRITES} decisions`);
  };

  const allocate = async (cause: Cause, p: PayloadOf<'AllocationRequested'>): Promise<void> => {
    void (await settle(
      cause,
      () => decideAllocation(graph, p),
      () => p.allocationId,
      async () => {
        await catchUp(p.provider);
        await catchUp(p.holder);
      },
    ));
  };
  const release = async (cause: Cause, p: PayloadOf<'ReleaseRequested'>): Promise<void> => void (await settle(cause, () => decideRelease(graph, p), () => p.allocationId));
  /** Deletes a node with everything it owns; resolves how many allocations were released. */
  const deleteNode = async (cause: Cause, node: NodeRef): Promise<number> => {
    // The whole graph up to date first (from where the live reader is): what the node owns
    // and holds may be recent. Events folded already are skipped, node by node.
    for await (const r of store.readAll({ filter: 'vnet.evt.res.>', fromPosition: readerPosition + 1 })) fold(r.event, r.position);
    const written = await settle(
      cause,
      () => decideDeletion(graph, node)[0],
      (d) => (d.type === 'ResourceNodeDeleted' ? 'deleted' : d.type === 'ResourceReleased' ? d.payload.allocationId : ''),
    );
    return written.filter((d) => d.type === 'ResourceReleased').length;
  };
  /** Writes facts about the graph's shape (nodes, links): no expectation, ids derived from the cause. */
  const record = async (cause: Cause, facts: ReadonlyArray<EventOf<'ResourceNodeAdded' | 'ResourceLinked'>['payload'] & { readonly kind: 'ResourceNodeAdded' | 'ResourceLinked' }>): Promise<void> => {
    await Promise.all(
      facts.map(async ({ kind, ...payload }, i) => {
        const ev: DomainEvent = {
          ...newEvent(kind as 'ResourceLinked', payload as PayloadOf<'ResourceLinked'>, { causationId: cause.id, correlationId: cause.correlationId }),
          id: derivedEventId('resource-manager', cause.id, kind, String(i)),
        };
        const r = await store.appendToStream(streamNameOf(ev), [ev]);
        if (E.isLeft(r)) throw new Error(`could not write ${kind}: ${describeAppendError(r.left)}`);
      }),
    );
    // Written without an expected revision: others may have written to these nodes in
    // between, so each is read up to date (folding only our event would skip theirs).
    const touched = new Map<string, NodeRef>();
    for (const f of facts) {
      const ref = f.kind === 'ResourceNodeAdded' ? (f as { node: NodeRef }).node : (f as { from: NodeRef }).from;
      touched.set(keyOf(ref), ref);
    }
    for (const ref of touched.values()) await catchUp(ref);
  };

  const handle = async (e: Request): Promise<void> => {
    switch (e.type) {
      case 'AllocationRequested':
        return allocate(e, e.payload);
      case 'ReleaseRequested':
        return release(e, e.payload);
      case 'ResourceDeletionRequested':
        await deleteNode(e, e.payload.node);
        return;
    }
  };

  /** Releases allocations left with deleted holders. */
  let sweeping = false;
  const sweep = async (): Promise<void> => {
    if (sweeping || orphans.size === 0) return;
    sweeping = true;
    try {
      for (const [k, holder] of [...orphans]) {
        orphans.delete(k);
        const id = derivedEventId('resource-manager', k, 'orphans', '');
        const cause: Cause = { id, correlationId: id, type: `release of what deleted ${k} held` };
        try {
          await settle(cause, () => orphanedAllocations(graph, holder)[0], (d) => (d.type === 'ResourceReleased' ? `${d.payload.allocationId}/orphan` : ''));
        } catch (err) {
          orphans.set(k, holder); // tried again after the next event or request
          throw err;
        }
      }
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      sweeping = false;
    }
  };

  // Live: what others write (and this instance's own writes, folded already).
  const ac = new AbortController();
  const reader = store
    .forEachEvent({ filter: 'vnet.evt.res.>', fromPosition: readerPosition + 1, live: true, signal: ac.signal }, (r: RecordedEvent<DomainEvent>) => {
      readerPosition = r.position;
      fold(r.event, r.position);
      if (orphans.size > 0) void sweep();
    })
    .catch((err: unknown) => {
      if (!ac.signal.aborted) onError(new Error(`graph reader stopped: ${err instanceof Error ? err.message : String(err)}`));
    });

  // One message at a time per node (its provider; a deletion touches many nodes: one at a
  // time, apart from the others), different nodes at the same time.
  const sub: Subscription = await store.subscribe(
    { name: o.subscription ?? 'resource-manager', filter: 'vnet.evt.resreq.>', ackWaitMs: 30_000, maxDeliver: 10 },
    async (r) => {
      const e = r.event;
      if (e.type !== 'AllocationRequested' && e.type !== 'ReleaseRequested' && e.type !== 'ResourceDeletionRequested') return;
      const t0 = performance.now();
      await handle(e);
      if (orphans.size > 0) await sweep();
      o.onHandled?.(e.type, performance.now() - t0);
    },
    {
      key: (r) => (r.event.type === 'AllocationRequested' || r.event.type === 'ReleaseRequested' ? keyOf(r.event.payload.provider) : 'deletions'),
      maxInFlight: o.maxInFlight ?? 256,
    },
  );

  let stopped = false;
  return {
    graph,
    ops: { graph, catchUp, allocate, release, deleteNode, record },
    counters: () => ({ ...c }),
    done: Promise.race([sub.done, reader]).then(() => {
      if (!stopped) throw new Error('the request subscription or the graph reader ended');
    }),
    stop: async () => {
      stopped = true;
      await sub.stop();
      ac.abort();
      await reader;
    },
  };
}
