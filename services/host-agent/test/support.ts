/** Test helpers shared by the host agent's network tests: raw IPv4 packets and simulated VMs
 * (a UDP socket with a receive queue and bounded waits). Loopback only. */
import assert from 'node:assert/strict';
import dgram, { type Socket } from 'node:dgram';
import { internetChecksum, ipv4FromString, IP_PROTOCOL } from '@vnet/geneve';

export const WAIT_MS = 2000;
export const QUIET_MS = 150;

/** A raw IPv4 packet with a correct header (IHL 5, DF, TTL 64, checksum) and `payload`. */
export function ipv4Packet(src: string, dst: string, payload: string | Uint8Array, protocol: number = IP_PROTOCOL.UDP): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const p = Buffer.alloc(20 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(0x4000, 6);
  p[8] = 64;
  p[9] = protocol;
  p.writeUInt32BE(ipv4FromString(src)!, 12);
  p.writeUInt32BE(ipv4FromString(dst)!, 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  body.copy(p, 20);
  return p;
}

/** A UDP socket with a receive queue and bounded waits. */
export class Endpoint {
  private readonly queue: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private constructor(readonly socket: Socket) {
    socket.on('message', (m) => {
      this.queue.push(m);
      this.waiter?.();
    });
  }
  static async open(host = '127.0.0.1'): Promise<Endpoint> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve());
    });
    return new Endpoint(s);
  }
  get address(): string {
    const a = this.socket.address();
    return `${a.address}:${a.port}`;
  }
  send(bytes: Uint8Array, to: string): void {
    const i = to.lastIndexOf(':');
    this.socket.send(bytes, Number(to.slice(i + 1)), to.slice(0, i));
  }
  async recv(ms = WAIT_MS): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram at ${this.address} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!;
  }
  /** Asserts nothing arrives for a while. */
  async quiet(ms = QUIET_MS): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.queue.length, 0, `unexpected datagram at ${this.address}`);
  }
  drain(): number {
    return this.queue.splice(0).length;
  }
  /** Everything received so far (and not yet taken), in order. */
  takeAll(): Buffer[] {
    return this.queue.splice(0);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

