import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import type { PageKey, PageRequest } from '@marvain/db';
import { CURSOR_MAX_LENGTH, decodeCursor, encodeCursor, IsListCursor } from './cursor';

export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 200;

/** The query of every list: how many rows at most, and where the previous page ended. */
export class ListPageQuery {
  @ApiPropertyOptional({ default: LIST_LIMIT_DEFAULT, minimum: 1, maximum: LIST_LIMIT_MAX })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(LIST_LIMIT_MAX)
  limit?: number;

  @ApiPropertyOptional({
    maxLength: CURSOR_MAX_LENGTH,
    description: "The previous page's `next_cursor`, to fetch the page after it (opaque; absent for the first page)",
  })
  @IsOptional()
  @IsString()
  @MaxLength(CURSOR_MAX_LENGTH)
  @IsListCursor()
  cursor?: string;
}

/** The query of every per-agent list: whose list, and which page. Lists extend it with their filters. */
export class AgentListQuery extends ListPageQuery {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  agent_id!: string;
}

/** The body every list answers with, next to its items. */
export class PagedList {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to fetch the next page; null when this page is the last',
  })
  next_cursor!: string | null;
}

/** The page a list query asks for (limit defaulted, cursor decoded). */
export function pageRequest(query: ListPageQuery): PageRequest {
  return { limit: query.limit ?? LIST_LIMIT_DEFAULT, after: decodeCursor(query.cursor) };
}

/** The cursor to hand out for the page after this one; null at the end of the list. */
export function nextCursor(page: { next: PageKey | null }): string | null {
  return page.next ? encodeCursor(page.next) : null;
}
