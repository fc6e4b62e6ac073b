import { LocalUsersService, type IssuedUserToken, type RevokedUserTokens } from '@marvain/identity';
import { readOperatorConfig, writeOperatorConfig, type HubConfig } from '@marvain/platform';
import { CliError } from '../cli-error';
import { viaHubOrDirect } from '../hub-or-direct';

function print(result: IssuedUserToken, json: boolean, out: (text: string) => void, what: string): void {
  if (json) {
    out(`${JSON.stringify({ user_id: result.user_id, user_token: result.user_token }, null, 2)}\n`);
  } else {
    out(`${what} ${result.user_id}${result.email ? ` <${result.email}>` : ''}\n  user_token: ${result.user_token}\n`);
  }
}

/** `marvain user create`: a local user and their first token. */
export async function userCreateCommand(
  config: HubConfig,
  options: { email: string; displayName?: string; json: boolean },
  out: (text: string) => void,
): Promise<IssuedUserToken> {
  const { result } = await viaHubOrDirect<IssuedUserToken>(
    config,
    {
      path: 'users',
      body: { email: options.email, ...(options.displayName ? { display_name: options.displayName } : {}) },
    },
    (context) => context.get(LocalUsersService).create(options.email, options.displayName ?? null),
  );
  print(result, options.json, out, 'Created local user');
  return result;
}

/** `marvain token issue`: a fresh token for a local user (by default the one in the config file). */
export async function tokenIssueCommand(
  config: HubConfig,
  options: { userId?: string; email?: string; json: boolean },
  out: (text: string) => void,
): Promise<IssuedUserToken> {
  const saved = await readOperatorConfig(config.configFile);
  const userId = options.userId ?? (options.email ? undefined : saved?.user_id);
  if (!userId && !options.email) {
    throw new CliError(`name the user with --user-id or --email (the config file ${config.configFile} names none)`, 2);
  }
  const { result } = await viaHubOrDirect<IssuedUserToken>(
    config,
    {
      path: 'tokens',
      body: { ...(userId ? { user_id: userId } : {}), ...(options.email ? { email: options.email } : {}) },
    },
    (context) =>
      context
        .get(LocalUsersService)
        .issue({ ...(userId ? { userId } : {}), ...(options.email ? { email: options.email } : {}) }),
  );
  // Keep the operator's own saved token fresh.
  if (saved?.user_id === result.user_id) {
    await writeOperatorConfig(config.configFile, { user_token: result.user_token });
  }
  print(result, options.json, out, 'Issued a token for user');
  return result;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `marvain user revoke-tokens <user>`: every token of a local user stops working on its next request. */
export async function userRevokeTokensCommand(
  config: HubConfig,
  options: { user: string; json: boolean },
  out: (text: string) => void,
): Promise<RevokedUserTokens> {
  const user = options.user.trim();
  const by = user.includes('@') ? { email: user } : UUID.test(user) ? { userId: user } : null;
  if (!by) {
    throw new CliError(`name the user by id (a UUID) or email, not ${JSON.stringify(options.user)}`, 2);
  }
  const { result } = await viaHubOrDirect<RevokedUserTokens>(
    config,
    { path: 'users/revoke-tokens', body: 'email' in by ? { email: by.email } : { user_id: by.userId } },
    (context) => context.get(LocalUsersService).revokeTokens(by, { type: 'system', id: 'operator' }),
  );
  if (options.json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    out(
      `Revoked every token of user ${result.user_id} (token version is now ${result.token_version}); issue a new one with "marvain token issue --user-id ${result.user_id}"\n`,
    );
  }
  return result;
}
