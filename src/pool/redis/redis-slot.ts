// A granted fleet lease as the Slot the rest of warden handles (handed to a job, described,
// released); every act goes back to the pool that owns the lease.
import type { HolderInfo, Slot } from '../pool.js';
import { leaseHandle } from './lease.js';
import type { Lease } from './lease.js';

export interface LeaseOwner {
  readonly name: string;
  describeLease(lease: Lease, info: Omit<HolderInfo, 'slot' | 'maxLive'>): void;
  releaseLease(lease: Lease): void;
  handedOff(lease: Lease): void;
  forgetLease(lease: Lease): void;
}

export class RedisSlot implements Slot {
  readonly index: number;
  readonly fd: number;
  readonly token: number;
  readonly handle: string;
  private done = false;

  constructor(
    private readonly owner: LeaseOwner,
    private readonly lease: Lease,
  ) {
    this.index = lease.grant?.slot ?? 0;
    this.token = Number(lease.grant?.token ?? 0);
    this.fd = lease.socket.fd;
    this.handle = leaseHandle(lease);
  }

  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    this.owner.describeLease(this.lease, info);
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.owner.releaseLease(this.lease);
  }

  handOff(): void {
    this.owner.handedOff(this.lease);
  }

  forget(): void {
    this.owner.forgetLease(this.lease);
  }
}
