// A PostgreSQL server of its own for a test file: Debian's binaries, initdb
// into a temp dir, listening on 127.0.0.1 only, fsync on (as deployed). It
// refuses to run as root, so as root it runs as the `postgres` user. Each
// test asks createDatabase() for a fresh database of its own.
import { spawn, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
function binDir() {
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
    const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
    if (!newest)
        throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): apt-get install postgresql');
    return join(root, newest, 'bin');
}
/** As root, commands run as `postgres`; otherwise as the current user. */
function asServerUser(command, args) {
    return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}
function run(command, args) {
    const [cmd, argv] = asServerUser(command, args);
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${err}`))));
    });
}
/** A port the kernel just handed out; PostgreSQL cannot listen on port 0 and say which it got. */
function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}
const running = new Set();
process.on('exit', () => {
    // The process group: the postmaster and every backend it forked.
    for (const child of running)
        if (child.pid)
            try {
                process.kill(-child.pid, 'SIGKILL');
            }
            catch { /* gone already */ }
});
export async function startPostgres() {
    const bin = binDir();
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-pg-'));
    const data = join(dir, 'data');
    if (process.getuid?.() === 0) {
        const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
        chownSync(dir, uid, gid);
    }
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
    // Test servers only ever listen on loopback; trust is for 127.0.0.1 alone.
    writeFileSync(join(dir, 'hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    if (process.getuid?.() === 0)
        execFileSync('chown', ['postgres:postgres', join(dir, 'hba.conf')]);
    let lastError;
    // The port may be taken again between freePort() and the server binding it: try another.
    for (let attempt = 0; attempt < 5; attempt++) {
        const port = await freePort();
        const [cmd, argv] = asServerUser(join(bin, 'postgres'), [
            '-D', data, '-p', String(port),
            '-c', 'listen_addresses=127.0.0.1',
            '-c', "unix_socket_directories=",
            '-c', `hba_file=${join(dir, 'hba.conf')}`,
            '-c', 'fsync=on',
            '-c', 'max_connections=200',
        ]);
        const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
        running.add(child);
        let log = '';
        const ready = await new Promise((resolve) => {
            child.stderr.on('data', (d) => {
                log += d;
                if (log.includes('ready to accept connections'))
                    resolve(true);
            });
            child.on('exit', () => resolve(false));
        });
        if (!ready) {
            running.delete(child);
            lastError = new Error(`postgres did not start on port ${port}: ${log}`);
            continue;
        }
        child.stderr.resume();
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
        const psql = (sql, database = 'postgres') => run(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql]);
        let databases = 0;
        return {
            url,
            port,
            psql,
            createDatabase: async () => {
                const name = `ztsh_test_${++databases}`;
                await psql(`CREATE DATABASE ${name}`);
                return `postgres://postgres@127.0.0.1:${port}/${name}`;
            },
            stop: async () => {
                if (child.exitCode === null && child.signalCode === null) {
                    const exited = new Promise((resolve) => child.once('exit', resolve));
                    // SIGQUIT: immediate shutdown; the cluster is thrown away, so no checkpoint is worth waiting for.
                    process.kill(-child.pid, 'SIGQUIT');
                    await exited;
                }
                running.delete(child);
                rmSync(dir, { recursive: true, force: true });
            },
        };
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
}
//# sourceMappingURL=postgres.js.map