// Run in a child process by sqlite-audit-sync.test.ts: appends routine
// (`written`) audit events to the SQLite file in argv[2], one small batch
// after another, and tells the parent each seq as its append resolves, the
// moment the proxy would end that answer. The parent kills it with SIGKILL.
import { openSqliteStorage } from './sqlite.ts';

const storage = openSqliteStorage(process.argv[2]!);
for (let n = 1; ; n++) {
  const events = await storage.audit.appendMany(
    [{ time: new Date().toISOString(), type: 'kube.request', code: 'ZA2000I', success: true, user: 'alice', message: `get pods ${n}`, fields: { cluster: 'prod', verb: 'get' } }],
    'written',
  );
  process.send!(events[0]!.seq);
}
