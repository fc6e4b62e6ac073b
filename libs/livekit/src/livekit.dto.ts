import { ApiProperty } from '@nestjs/swagger';

export class LivekitGrantsView {
  @ApiProperty({ example: 'marvain-<agent_id>-<space_id>', description: 'The only room the token joins' })
  room!: string;
  @ApiProperty({ enum: [true] }) room_join!: true;
  @ApiProperty({ enum: [true] }) can_subscribe!: true;
  @ApiProperty({ description: 'Users, and devices whose capabilities include a microphone or camera' })
  can_publish!: boolean;
  @ApiProperty({ description: 'Same as can_publish' }) can_publish_data!: boolean;
}

export class LivekitTokenView {
  @ApiProperty({ example: 'wss://rooms.example.com', description: 'The LiveKit server to connect to' })
  url!: string;
  @ApiProperty({ example: 'marvain-<agent_id>-<space_id>', description: "The space's room: the same for every caller" })
  room!: string;
  @ApiProperty({ example: 'user:<user_id>', description: '`<principal type>:<id>`' })
  identity!: string;
  @ApiProperty({ description: 'A LiveKit access token (JWT); pass it to the LiveKit client with `url`' })
  token!: string;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ type: LivekitGrantsView }) grants!: LivekitGrantsView;
}

export class LivekitWebhookAck {
  @ApiProperty({ enum: [true] }) received!: true;
  @ApiProperty({ example: 'participant_joined' }) event!: string;
  @ApiProperty({
    description:
      'Whether presence changed or was confirmed: false for events the hub ignores (other kinds, rooms or participants it does not know)',
  })
  applied!: boolean;
}
