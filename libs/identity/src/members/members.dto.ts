import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsUUID } from 'class-validator';
import { MEMBERSHIP_ROLES } from '@marvain/contracts';
import { PagedList, UuidParam } from '@marvain/platform';

/** Roles a membership can be given directly; ownership moves only by transfer. */
export const GRANTABLE_ROLES = ['admin', 'member', 'guest'] as const;
export type GrantableRole = (typeof GRANTABLE_ROLES)[number];

const ROLE_MESSAGE = 'role must be admin, member or guest (ownership moves only through transfer-ownership)';

export class MemberParams {
  @UuidParam() agent_id!: string;
  @UuidParam() user_id!: string;
}

export class AddMemberDto {
  @ApiProperty({ format: 'uuid', description: 'The user to add (see GET /v1/me for your own id)' })
  @IsUUID()
  user_id!: string;

  @ApiProperty({ enum: GRANTABLE_ROLES })
  @IsIn(GRANTABLE_ROLES, { message: ROLE_MESSAGE })
  role!: GrantableRole;
}

export class ChangeMemberRoleDto {
  @ApiProperty({ enum: GRANTABLE_ROLES })
  @IsIn(GRANTABLE_ROLES, { message: ROLE_MESSAGE })
  role!: GrantableRole;
}

export class TransferOwnershipDto {
  @ApiProperty({ format: 'uuid', description: 'An active member of the agent, who becomes its owner' })
  @IsUUID()
  user_id!: string;
}

export class MemberView {
  @ApiProperty({ format: 'uuid' }) membership_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty({ enum: MEMBERSHIP_ROLES }) role!: string;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ nullable: true, type: String }) display_name!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class MemberList extends PagedList {
  @ApiProperty({ type: [MemberView] }) members!: MemberView[];
}

export class OwnershipTransferView {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ type: MemberView }) owner!: MemberView;
  @ApiProperty({ type: MemberView, description: 'The former owner, now an admin' }) previous_owner!: MemberView;
}
