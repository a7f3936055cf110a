/**
 * The host agent's part in a live migration (the migration service runs the steps):
 * - target: once the VM's key shared with this host is open (`VmKeyShared`, keyring), accept
 *   the VM's tokens made for the source host, hold packets that come for the VM before it
 *   attaches, and say `MigrationTargetReady`; report the first packet delivered to the VM
 *   (`MigrationTrafficArrived`: the end of the blackout); after the switch (`VmMoved`) the
 *   source's tokens count until the grace period ends;
 * - source: after the switch (`VmMoved` from this host) send frames that still come for the
 *   VM on to the target until the grace period ends, then report how many
 *   (`MigrationForwardingEnded`);
 * - both count the packets for the VM their data plane dropped during the move (the target
 *   before the first delivery, the source after the VM's port closed) and report them with
 *   those events: the packets lost, as the system saw them.
 * Events older than their use (a key shared long ago, a switch whose grace period is over,
 * read again after a restart) are left alone. An answer's id derives from the event it
 * answers (and this host), so an agent that restarts and answers again writes nothing new:
 * the log stores an id once within its duplicate window (an hour). An answer the previous
 * run never wrote (it restarted during the grace period) is written by this one.
 */
import { HostId, ipv4ToInt, mustDecode, newEvent, NonNegativeInt, streamNameOf, type DomainEvent, type EventOf, type IsoTimestamp } from '@vnet/events';
import { describeAppendError, type EventStore } from '@vnet/eventstore';
import { derivedEventId } from '@vnet/runner';
import type { DataPlane } from './dataplane';

/** A shared key older than this is not answered any more (the migration gave up long ago). */
const READY_WITHIN_MS = 60_000;

export interface MigrationPart {
  /** The keyring opened a key shared for a migration. */
  keyShared(shared: EventOf<'VmKeyShared'>): void;
  /** The follower folded a `VmMoved`. */
  moved(e: EventOf<'VmMoved'>): void;
}

export function migrationPart(o: {
  readonly store: EventStore<DomainEvent>;
  readonly hostId: string;
  readonly plane: () => DataPlane | undefined;
  readonly now?: () => number;
  readonly onError?: (e: unknown) => void;
}): MigrationPart {
  const now = o.now ?? Date.now;
  const hostId = mustDecode(HostId, o.hostId);
  /** Answers `e` with `ev`, under an id derived from `e`: written once however often it is answered. */
  const answer = (e: DomainEvent, ev: DomainEvent): void => publish({ ...ev, id: derivedEventId(`host-agent.${o.hostId}`, e.id, ev.type, '') });
  const publish = (ev: DomainEvent): void => {
    o.store.appendToStream(streamNameOf(ev), [ev]).then(
      (r) => r._tag === 'Left' && o.onError?.(new Error(`could not write ${ev.type}: ${describeAppendError(r.left)}`)),
      (e: unknown) => o.onError?.(e),
    );
  };
  const seen = new Set<string>();
  return {
    keyShared(e) {
      const k = e.payload;
      if (now() - Date.parse(e.occurredAt) > READY_WITHIN_MS || seen.has(`ready/${k.migrationId}`)) return;
      seen.add(`ready/${k.migrationId}`);
      // From now on this host takes the VM's tokens made for its source, holds what comes for
      // it until it attaches, and reports the first packet delivered (the switch may reach
      // this host's readers after the first forwarded frames do).
      o.plane()?.receiveMoved({ vmId: k.vmId, vni: k.vni, ip: ipv4ToInt(k.ip), fromUnderlay: k.fromUnderlay, untilMs: Date.parse(e.occurredAt) + READY_WITHIN_MS }, (atMs, dropped) =>
        answer(
          e,
          newEvent(
            'MigrationTrafficArrived',
            { migrationId: k.migrationId, vmId: k.vmId, hostId, firstPacketAt: new Date(atMs).toISOString() as IsoTimestamp, dropped: mustDecode(NonNegativeInt, dropped) },
            { causationId: e.id, correlationId: e.correlationId },
          ),
        ),
      );
      answer(e, newEvent('MigrationTargetReady', { migrationId: k.migrationId, vmId: k.vmId, hostId, keyId: k.keyId }, { causationId: e.id, correlationId: e.correlationId }));
    },
    moved(e) {
      const p = e.payload;
      const untilMs = Date.parse(e.occurredAt) + p.graceMs;
      const plane = o.plane();
      if (!plane || untilMs <= now() || seen.has(`moved/${p.migrationId}`)) return;
      seen.add(`moved/${p.migrationId}`);
      if (p.fromHostId === o.hostId) {
        plane.forwardMoved({ vni: p.vni, ip: ipv4ToInt(p.ip), toUnderlay: p.toUnderlay, untilMs }, (forwarded, dropped) =>
          answer(e, newEvent('MigrationForwardingEnded', { migrationId: p.migrationId, vmId: p.vmId, hostId, forwarded: mustDecode(NonNegativeInt, forwarded), dropped: mustDecode(NonNegativeInt, dropped) }, { causationId: e.id, correlationId: e.correlationId })),
        );
      }
      // The target: tokens made for the source count until the grace period ends (the
      // arrival report was set up when the key came).
      if (p.toHostId === o.hostId) plane.receiveMoved({ vmId: p.vmId, vni: p.vni, ip: ipv4ToInt(p.ip), fromUnderlay: p.fromUnderlay, untilMs });
    },
  };
}
