import { IsUUID } from 'class-validator';

export class VerifyAuditQuery {
  @IsUUID()
  agent_id!: string;
}
