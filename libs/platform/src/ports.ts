import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';

/** The time, as a port so services can be tested at any instant. */
export interface Clock {
  now(): Date;
}
export const CLOCK = Symbol('Clock');

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

/** Identifiers. `derived` is UUIDv5 of a name, so work retried from the same input writes the same ids. */
export interface Ids {
  random(): string;
  derived(name: string): string;
}
export const IDS = Symbol('Ids');

// Marvain's UUIDv5 namespace; changing it would change every derived id.
export const MARVAIN_ID_NAMESPACE = '6f1c7a52-8b0e-4c55-9a0d-2f6b8d1e3c47';

export class SystemIds implements Ids {
  random(): string {
    return randomUUID();
  }
  derived(name: string): string {
    return uuidv5(name, MARVAIN_ID_NAMESPACE);
  }
}
