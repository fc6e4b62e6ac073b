import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Principal, StreamEntry } from '@marvain/contracts';
import { LoggerFactory, type HubLogger } from '@marvain/platform';
import { AgentStream, LocalStreamBus } from '@marvain/streams';
import { DEFAULT_WEBSOCKET_LIMITS, WEBSOCKET_LIMITS, type WebSocketLimits } from '../websocket-limits';
import { DeliveryChannel, type DeliveryLimits, type DeliverySink } from './delivery-channel';

/**
 * The local runtime's delivery: one listener on the stream bus hands each committed entry to the
 * channels (WebSocket connections, SSE streams) subscribed to its agent. Catch-up reads of the
 * same agent from the same seq and of the same size share one query, so a burst of subscribers
 * falling behind together costs the database one read.
 */
@Injectable()
export class LocalDelivery implements OnModuleDestroy {
  private readonly logger: HubLogger;
  private readonly byAgent = new Map<string, Set<DeliveryChannel>>();
  private readonly reads = new Map<string, Promise<StreamEntry[]>>();
  private readonly unlisten: (() => void) | null;
  private readonly limits: DeliveryLimits;

  constructor(
    private readonly stream: AgentStream,
    logs: LoggerFactory,
    @Optional() bus?: LocalStreamBus,
    @Optional() @Inject(WEBSOCKET_LIMITS) limits?: Partial<WebSocketLimits>,
  ) {
    this.logger = logs.forContext('Delivery');
    this.limits = { ...DEFAULT_WEBSOCKET_LIMITS, ...limits };
    // The AWS runtime has no bus: its fan-out runs in the function that committed the change.
    this.unlisten = bus ? bus.listen((entries) => this.publish(entries)) : null;
  }

  onModuleDestroy(): void {
    this.unlisten?.();
  }

  /**
   * A channel for one connection or stream. `principal` is read at each entry (a repeated hello
   * may narrow it); `limits` replace the configured delivery limits (tests use small ones).
   */
  open(
    principal: () => Principal,
    sink: DeliverySink,
    events: { stopped?: (agentId: string) => void } = {},
    limits: Partial<DeliveryLimits> = {},
  ): DeliveryHandle {
    const channel = new DeliveryChannel(
      principal,
      sink,
      (agentId, fromSeq, limit) => this.read(agentId, fromSeq, limit),
      { ...this.limits, ...limits },
      {
        stopped: (agentId) => {
          this.index(channel);
          events.stopped?.(agentId);
        },
        failed: (agentId, error) =>
          this.logger.warn(`could not read agent ${agentId}'s stream for a subscriber: ${String(error)}`),
      },
    );
    return {
      channel,
      subscribe: (subscription, fromSeq) => {
        channel.subscribe(subscription, fromSeq);
        this.index(channel);
      },
      unsubscribe: (agentId) => {
        channel.unsubscribe(agentId);
        this.index(channel);
      },
      close: () => {
        channel.close();
        this.index(channel);
      },
    };
  }

  /** How many channels are subscribed to the agent (for tests and diagnostics). */
  subscribers(agentId: string): number {
    return this.byAgent.get(agentId)?.size ?? 0;
  }

  private publish(entries: readonly StreamEntry[]): void {
    const agents = new Set(entries.map((entry) => entry.agent_id));
    for (const agentId of agents) {
      for (const channel of [...(this.byAgent.get(agentId) ?? [])]) {
        channel.offer(entries);
      }
    }
  }

  /** Keeps the agent → channels index in step with the channel's subscriptions. */
  private index(channel: DeliveryChannel): void {
    const agents = new Set(channel.agents());
    for (const [agentId, channels] of this.byAgent) {
      if (!agents.has(agentId) && channels.delete(channel) && channels.size === 0) {
        this.byAgent.delete(agentId);
      }
    }
    for (const agentId of agents) {
      let channels = this.byAgent.get(agentId);
      if (!channels) {
        channels = new Set();
        this.byAgent.set(agentId, channels);
      }
      channels.add(channel);
    }
  }

  private read(agentId: string, fromSeq: number, limit: number): Promise<StreamEntry[]> {
    const key = `${agentId}:${fromSeq}:${limit}`;
    let pending = this.reads.get(key);
    if (!pending) {
      pending = this.stream.read(agentId, fromSeq, {}, limit).finally(() => this.reads.delete(key));
      this.reads.set(key, pending);
    }
    return pending;
  }
}

/** A channel with the delivery's agent index kept in step. */
export interface DeliveryHandle {
  channel: DeliveryChannel;
  subscribe(subscription: Parameters<DeliveryChannel['subscribe']>[0], fromSeq: number | null): void;
  unsubscribe(agentId: string): void;
  close(): void;
}
