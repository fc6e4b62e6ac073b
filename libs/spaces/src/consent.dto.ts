import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length, Matches } from 'class-validator';
import type { ConsentGrantRow } from './consent.repository';
import { ListPageQuery, OptionalButNotNull, PagedList } from '@marvain/platform';
import { UuidParam } from '@marvain/platform';

/** What a person can consent to (the consent_grants.consent_type check constraint). */
export const CONSENT_TYPES = ['voice', 'face', 'recording_storage'] as const;
export type ConsentType = (typeof CONSENT_TYPES)[number];

/** A grant is active until it is revoked or its expires_at passes; revoked wins over expired. */
export const CONSENT_STATUSES = ['active', 'expired', 'revoked'] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export function consentStatus(row: Pick<ConsentGrantRow, 'revoked_at' | 'expires_at'>, now: Date): ConsentStatus {
  if (row.revoked_at) {
    return 'revoked';
  }
  if (row.expires_at && row.expires_at.getTime() <= now.getTime()) {
    return 'expired';
  }
  return 'active';
}

export class ConsentIdParams {
  @UuidParam() consent_id!: string;
}

export class GrantConsentDto {
  @ApiProperty({ enum: CONSENT_TYPES })
  @IsIn(CONSENT_TYPES)
  consent_type!: ConsentType;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2030-01-01T00:00:00Z',
    description: 'When the grant lapses (a future instant with a time zone); without it the grant holds until revoked',
  })
  @OptionalButNotNull()
  @IsString()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i, {
    message: '$property must be a date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
  })
  expires_at?: string;
}

export class RevokeConsentDto {
  @ApiPropertyOptional({ maxLength: 500, description: 'Recorded in the audit entry' })
  @OptionalButNotNull()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class ListConsentsQuery extends ListPageQuery {
  @ApiPropertyOptional({ enum: CONSENT_TYPES })
  @IsOptional()
  @IsIn(CONSENT_TYPES)
  consent_type?: ConsentType;

  @ApiPropertyOptional({ enum: CONSENT_STATUSES })
  @IsOptional()
  @IsIn(CONSENT_STATUSES)
  status?: ConsentStatus;
}

export class ConsentView {
  @ApiProperty({ format: 'uuid' }) consent_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid' }) person_id!: string;
  @ApiProperty({ enum: CONSENT_TYPES }) consent_type!: string;
  @ApiProperty({ enum: CONSENT_STATUSES }) status!: ConsentStatus;
  @ApiProperty({ format: 'date-time' }) granted_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true }) expires_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true }) revoked_at!: string | null;
}

export class ConsentList extends PagedList {
  @ApiProperty({ type: [ConsentView] }) consents!: ConsentView[];
}
