import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { RejectActionDto } from '@marvain/actions';
import { ACTION_STATUSES, STREAM_TOPICS, type ActionStatus, type StreamTopic } from '@marvain/contracts';
import { IngestEventDto } from '@marvain/events';
import { CURSOR_MAX_LENGTH, IsListCursor, LIST_LIMIT_MAX, OptionalButNotNull, UuidParam } from '@marvain/platform';

/** The longest transcript chunk `push_transcript` takes (the events service's transcript limit). */
export const TRANSCRIPT_TEXT_MAX = 20_000;

/** `send_event`: the body of POST /v1/events under `event`. */
export class SendEventMessage {
  @IsObject()
  @ValidateNested()
  @Type(() => IngestEventDto)
  event!: IngestEventDto;
}

/** `push_transcript`: a `transcript_chunk` event with `payload.text`. */
export class PushTranscriptMessage {
  @IsUUID()
  space_id!: string;

  @IsString()
  @Length(1, TRANSCRIPT_TEXT_MAX)
  text!: string;

  @OptionalButNotNull()
  @IsString()
  @Length(1, 200)
  client_event_id?: string;
}

/** `approve_action`: the REST route's `:id`. */
export class ActionMessage {
  @UuidParam() action_id!: string;
}

/** `reject_action`: the REST route's `:id` and body. */
export class RejectActionMessage extends RejectActionDto {
  @UuidParam() action_id!: string;
}

/** What `subscribe` and the SSE stream share: whose stream, which topics, which space, from where. */
export interface StreamRequest {
  agent_id: string;
  space_id?: string;
  topics?: StreamTopic[];
  from_seq?: number;
}

/** `subscribe`. Leaving `topics` out means every topic the principal may read. */
export class SubscribeMessage implements StreamRequest {
  @UuidParam() agent_id!: string;

  @OptionalButNotNull()
  @IsUUID()
  space_id?: string;

  @OptionalButNotNull()
  @IsArray()
  @ArrayMinSize(1, { message: 'topics must name at least one topic (leave it out for every topic)' })
  @ArrayMaxSize(STREAM_TOPICS.length)
  @IsIn(STREAM_TOPICS, { each: true })
  topics?: StreamTopic[];

  @OptionalButNotNull()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  from_seq?: number;
}

/**
 * `list_actions`: GET /v1/actions's query as JSON. Unlike a query string, JSON carries types, so
 * nothing is coerced: `limit` must be a number, and no field may be null.
 */
export class ListActionsMessage {
  @IsUUID()
  agent_id!: string;

  @OptionalButNotNull()
  @IsIn(ACTION_STATUSES)
  status?: ActionStatus;

  @OptionalButNotNull()
  @IsInt()
  @Min(1)
  @Max(LIST_LIMIT_MAX)
  limit?: number;

  @OptionalButNotNull()
  @IsString()
  @MaxLength(CURSOR_MAX_LENGTH)
  @IsListCursor()
  cursor?: string;
}

/** `unsubscribe`. */
export class UnsubscribeMessage {
  @UuidParam() agent_id!: string;
}

/** `subscribe_presence`. */
export class SubscribePresenceMessage {
  @UuidParam() agent_id!: string;

  @OptionalButNotNull()
  @IsUUID()
  space_id?: string;
}

/** The query of GET /v1/agents/:agent_id/stream (the agent comes from the path). */
export class StreamQuery {
  @ApiPropertyOptional({
    description: `Comma-separated topics (${STREAM_TOPICS.join(', ')}); default every topic the caller may read`,
    example: 'events.new,actions.updated',
  })
  @OptionalButNotNull()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.split(',').map((topic) => topic.trim()) : value,
  )
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(STREAM_TOPICS.length)
  @IsIn(STREAM_TOPICS, { each: true })
  topics?: StreamTopic[];

  @ApiPropertyOptional({ format: 'uuid', description: "Only this space's entries" })
  @OptionalButNotNull()
  @IsUUID()
  space_id?: string;

  @ApiPropertyOptional({
    minimum: 1,
    description: 'Replay from this seq (inclusive); wins over Last-Event-ID. Default: only new entries',
  })
  @OptionalButNotNull()
  @Matches(/^[1-9][0-9]{0,15}$/, { message: 'from_seq must be a whole number of at least 1' })
  from_seq?: string;
}
