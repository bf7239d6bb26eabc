// ztshd tokens add|ls|rm: join tokens for agents, and for proxies that run apart from auth.
import { Command, Option } from 'commander';
import { createJoinToken, parseDuration, removeJoinToken } from '@ztsh/auth';
import { ClusterName, ZtshError } from '@ztsh/protocol';
import { openAdminStore, type StoreOptions } from './admin-store.ts';

type Out = (text: string) => void;

function storeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'the ztsh.yaml of the ztshd whose store to use')
    .option('--data-dir <dir>', 'the data dir, instead of --config (the dev stack: .ztsh-dev)');
}

export function tokensCommand(out: Out): Command {
  const tokens = new Command('tokens').description('join tokens that let agents register their cluster, and proxies join the auth service');

  storeOptions(tokens.command('add'))
    .description('make a join token (printed once; stored only as a hash)')
    .addOption(new Option('--type <type>', 'what may join with it: an agent, or a proxy run apart from auth').choices(['agent', 'proxy']).makeOptionMandatory())
    .option('--cluster <name>', 'agents: the only cluster name the token can join as (required for --type agent)')
    .option('--ttl <duration>', 'how long the token is valid', '1h')
    .option('--uses <n>', 'how many joins it allows; 0 for unlimited until it expires', '1')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o: StoreOptions & { type: 'agent' | 'proxy'; cluster?: string; ttl: string; uses: string; format: string }) => {
      if (o.type === 'agent') {
        if (o.cluster === undefined) throw new ZtshError('bad_request', 'an agent token is for one cluster: give --cluster NAME');
        const cluster = ClusterName.safeParse(o.cluster);
        if (!cluster.success) throw new ZtshError('bad_request', `--cluster "${o.cluster}": ${cluster.error.issues[0]!.message}`);
      } else if (o.cluster !== undefined) {
        throw new ZtshError('bad_request', 'a proxy token is for no cluster: leave --cluster out');
      }
      let ttlMs: number;
      try {
        ttlMs = parseDuration(o.ttl);
      } catch (cause) {
        throw new ZtshError('bad_request', `--ttl: ${(cause as Error).message}`);
      }
      if (!/^\d+$/.test(o.uses)) throw new ZtshError('bad_request', `--uses "${o.uses}" must be a whole number`);
      const uses = Number(o.uses) === 0 ? null : Number(o.uses);
      const store = await openAdminStore(o);
      try {
        const { token, record } = await createJoinToken(store, { type: o.type, cluster: o.cluster, ttlMs, uses });
        if (o.format === 'json') {
          out(JSON.stringify({ token, id: record.id, type: record.type, cluster: record.cluster || null, uses: record.usesLeft, expiresAt: new Date(record.expiresAt).toISOString() }, null, 2) + '\n');
          return;
        }
        const usesText = `${uses === null ? 'unlimited uses' : `${uses} use${uses === 1 ? '' : 's'}`}, valid until ${new Date(record.expiresAt).toISOString()}`;
        out(
          record.type === 'agent'
            ? `Join token ${record.id} for cluster "${record.cluster}" (agent), ${usesText}:\n\n  ${token}\n\nIt is shown only now. Give it to the agent of cluster "${record.cluster}".\n`
            : `Join token ${record.id} for a proxy, ${usesText}:\n\n  ${token}\n\nIt is shown only now. Give it to the proxy as proxy.join_token in its ztsh.yaml.\n`,
        );
      } finally {
        await store.storage.close();
      }
    });

  storeOptions(tokens.command('ls'))
    .description('list join tokens (never the tokens themselves)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o: StoreOptions & { format: string }) => {
      const store = await openAdminStore(o);
      try {
        const now = Date.now();
        const rows = (await store.storage.joinTokens.list()).map((t) => ({
          id: t.id,
          type: t.type,
          cluster: t.cluster || null,
          usesLeft: t.usesLeft,
          expiresAt: new Date(t.expiresAt).toISOString(),
          expired: t.expiresAt <= now,
        }));
        if (o.format === 'json') {
          out(JSON.stringify(rows, null, 2) + '\n');
          return;
        }
        if (rows.length === 0) {
          out('No join tokens.\n');
          return;
        }
        out(`${'ID'.padEnd(10)}${'TYPE'.padEnd(7)}${'CLUSTER'.padEnd(20)}${'USES LEFT'.padEnd(11)}EXPIRES\n`);
        for (const r of rows) {
          out(`${r.id.padEnd(10)}${r.type.padEnd(7)}${(r.cluster ?? '-').padEnd(20)}${String(r.usesLeft ?? 'unlimited').padEnd(11)}${r.expiresAt}${r.expired ? ' (expired)' : ''}\n`);
        }
      } finally {
        await store.storage.close();
      }
    });

  storeOptions(tokens.command('rm'))
    .description('delete a join token by its id')
    .argument('<id>', 'the id shown by ztshd tokens ls')
    .action(async (id: string, o: StoreOptions) => {
      const store = await openAdminStore(o);
      try {
        await removeJoinToken(store, id);
        out(`Join token ${id} deleted.\n`);
      } finally {
        await store.storage.close();
      }
    });

  return tokens;
}
