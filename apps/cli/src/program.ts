import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, HubConfig, loadHubSettings } from '@marvain/platform';
import { DomainError, ErrorCode, MARVAIN_VERSION } from '@marvain/contracts';
import { CliError } from './cli-error';
import { bootstrapCommand } from './commands/bootstrap.command';
import { auditVerifyCommand } from './commands/audit.command';
import { addRemoteCommand } from './commands/devices.command';
import { tokenIssueCommand, userCreateCommand, userRevokeTokensCommand } from './commands/users.command';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

function nonEmpty(label: string) {
  return (value: string): string => {
    const trimmed = value.trim();
    if (!trimmed || trimmed.length > 200) {
      throw new InvalidArgumentError(`${label} must be 1 to 200 characters`);
    }
    return trimmed;
  };
}

/** Builds the `marvain` command tree. Settings come from the same environment variables as the hub. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('marvain')
    .description('Operate a Marvain hub: bootstrap agents, and (in later releases) deploy, monitor and manage it.')
    .version(MARVAIN_VERSION, '-V, --version', 'print the version')
    .option(
      '--timeout <seconds>',
      'how long to wait for a running hub to answer (default 15, or MARVAIN_CLI_TIMEOUT_SECONDS)',
      timeoutArgument,
    )
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();

  const config = (): HubConfig => {
    const timeout = program.opts<{ timeout?: number }>().timeout;
    return new HubConfig(
      loadHubSettings(io.env, { logLevel: 'silent', ...(timeout !== undefined ? { cliTimeoutSeconds: timeout } : {}) }),
    );
  };

  program
    .command('bootstrap')
    .description(
      'Create an agent, a space and a device (and an owner if the config has none); save the credentials to the config file',
    )
    .requiredOption('--agent-name <name>', 'name of the agent to create', nonEmpty('--agent-name'))
    .requiredOption('--space-name <name>', 'name of its first space', nonEmpty('--space-name'))
    .option('--owner-email <email>', 'email of a new owner (when the config has no user yet)')
    .option('--json', 'print {agent_id, space_id, device_id, device_token, user_token} as JSON', false)
    .action(async (options: { agentName: string; spaceName: string; ownerEmail?: string; json: boolean }) => {
      await bootstrapCommand(config(), options, io.out);
    });

  const user = program
    .command('user')
    .description('Manage local users (the local runtime issues their tokens; in AWS, Cognito does)');
  user
    .command('create')
    .description('Create a local user and print their id and token')
    .requiredOption('--email <email>', "the user's email address", emailArgument)
    .option('--display-name <name>', 'how the user is shown', nonEmpty('--display-name'))
    .option('--json', 'print {user_id, user_token} as JSON', false)
    .action(async (options: { email: string; displayName?: string; json: boolean }) => {
      await userCreateCommand(config(), options, io.out);
    });
  user
    .command('revoke-tokens')
    .description(
      'Revoke every token of a local user from their next request on (audited); they need a new one (marvain token issue)',
    )
    .argument('<user>', 'the user, by id or email')
    .option('--json', 'print {user_id, token_version} as JSON', false)
    .action(async (who: string, options: { json: boolean }) => {
      await userRevokeTokensCommand(config(), { user: who, ...options }, io.out);
    });

  program
    .command('token')
    .description('User tokens')
    .command('issue')
    .description('Issue a fresh token for an existing local user (default: the user in the config file)')
    .option('--user-id <id>', 'the user, by id')
    .option('--email <email>', 'the user, by email', emailArgument)
    .option('--json', 'print {user_id, user_token} as JSON', false)
    .action(async (options: { userId?: string; email?: string; json: boolean }) => {
      await tokenIssueCommand(config(), options, io.out);
    });

  program
    .command('devices')
    .description('Devices of an agent')
    .command('add-remote')
    .description(
      'Create a remote device (a satellite on another machine) and print the two commands that install and start it there',
    )
    .requiredOption('--agent-id <id>', 'the agent the device belongs to')
    .requiredOption('--name <name>', 'how the device is shown', nonEmpty('--name'))
    .option('--space-id <id>', "the space it is in (default: the agent's space in the config file)")
    .option('--hub-url <url>', 'the URL the other machine reaches the hub at (default: the one in the config file)')
    .option('--json', 'print {device_id, token, install} as JSON', false)
    .action(async (options: { agentId: string; name: string; spaceId?: string; hubUrl?: string; json: boolean }) => {
      await addRemoteCommand(config(), options, io.out);
    });

  program
    .command('audit')
    .description('The tamper-evident audit log')
    .command('verify')
    .description(
      'Recompute a chain from its write-once copies and compare it with the database (exit code 1 when it does not verify)',
    )
    .option('--system', 'the system chain (schema migrations, users)', false)
    .option('--agent <id>', "an agent's chain")
    .option('--json', 'print the verification as JSON', false)
    .action(async (options: { system: boolean; agent?: string; json: boolean }) => {
      await auditVerifyCommand(config(), options, io.out);
    });

  return program;
}

function timeoutArgument(value: string): number {
  const seconds = Number(value);
  if (!/^\d+$/.test(value.trim()) || seconds < 1 || seconds > 3600) {
    throw new InvalidArgumentError('must be a whole number of seconds from 1 to 3600');
  }
  return seconds;
}

function emailArgument(value: string): string {
  const trimmed = value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(trimmed) || trimmed.length > 320) {
    throw new InvalidArgumentError('must be an email address');
  }
  return trimmed;
}

/** Runs the CLI and returns its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      io.err(`marvain: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      io.err(`marvain: ${error.message}\n`);
      return 2;
    }
    if (error instanceof DomainError) {
      io.err(`marvain: ${error.message}\n`);
      return error.code === ErrorCode.ValidationFailed ? 2 : 1;
    }
    io.err(`marvain: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
