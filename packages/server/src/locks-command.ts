// ztshd locks ls|rm: locks on the local store, for the day no admin can reach
// the API (every admin locked out). A running ztshd on this store picks the
// change up within a second; the removal is audited like one made with ztsh.
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { createLocks, lockMessage } from '@ztsh/auth';
import { lockTargetText, ZtshError } from '@ztsh/protocol';
import { openAdminStore, type StoreOptions } from './admin-store.ts';

type Out = (text: string) => void;

function storeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'the ztsh.yaml of the ztshd whose store to use')
    .option('--data-dir <dir>', 'the data dir, instead of --config (the dev stack: .ztsh-dev)');
}

/** Who removed it, as the audit log keeps it: this machine's account, through ztshd. */
function localActor(): string {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (some containers): the name stays unknown
  }
  return `ztshd:${name}`;
}

export function locksCommand(out: Out): Command {
  const locks = new Command('locks').description('locks in force, on the local store: list them, or remove one when no admin can (ztsh lock is the everyday way)');

  storeOptions(locks.command('ls'))
    .description('list the locks in force')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o: StoreOptions & { format: string }) => {
      const store = await openAdminStore(o);
      try {
        const rows = (await store.storage.locks.active(store.clock.now().getTime())).map((l) => ({
          id: l.id,
          target: l.target,
          message: l.message,
          createdBy: l.createdBy,
          createdAt: new Date(l.createdAt).toISOString(),
          expiresAt: l.expiresAt === null ? null : new Date(l.expiresAt).toISOString(),
        }));
        if (o.format === 'json') {
          out(JSON.stringify(rows, null, 2) + '\n');
          return;
        }
        if (rows.length === 0) {
          out('No locks in force.\n');
          return;
        }
        const target = lockTargetText;
        out(`${'ID'.padEnd(11)}${'TARGET'.padEnd(28)}${'BY'.padEnd(16)}${'EXPIRES'.padEnd(26)}MESSAGE\n`);
        for (const r of rows) {
          out(`${r.id.padEnd(11)}${target(r.target).padEnd(28)}${r.createdBy.padEnd(16)}${(r.expiresAt ?? 'never').padEnd(26)}${r.message ?? '-'}\n`);
        }
      } finally {
        await store.storage.close();
      }
    });

  storeOptions(locks.command('rm'))
    .description('remove a lock by its id (audited)')
    .argument('<id>', 'the id shown by ztshd locks ls (one that starts with "-" goes after --: ztshd locks rm -- -abc)')
    .action(async (id: string, o: StoreOptions) => {
      const store = await openAdminStore(o);
      try {
        const all = await createLocks(store.storage, store.clock, store.ids, store.audit);
        try {
          const lock = all.list().find((l) => l.id === id);
          if (!lock || !(await all.remove(id, localActor()))) {
            throw new ZtshError('not_found', `no lock ${id} in force`, { hint: 'ztshd locks ls lists the locks in force' });
          }
          out(`Removed: ${lockMessage(lock)}.\nA running ztshd on this store applies it within a second.\n`);
        } finally {
          all.close();
        }
      } finally {
        await store.storage.close();
      }
    });

  return locks;
}
