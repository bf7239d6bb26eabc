// One address in front of several ztshd replicas, as a deployment has it:
// Debian's haproxy in TCP mode, so TLS (and kubectl's client certificate)
// passes through to the replica untouched. `ztshd dev --replicas N` and the
// end-to-end tests run it; production runs its own load balancer (see
// docs/deploy.md), with the same settings as the config written here.
//
//   client ──TLS──▶ haproxy (127.0.0.1:port, fd inherited) ──TCP──▶ replica 1..N
//                        ▲ admin socket: backends set at run time
//
// The listening socket is bound by Node on port 0 and handed to haproxy as
// fd 3 (`bind fd@3`), so no port is ever guessed. Backends live in slots of a
// server-template and are filled through the admin socket, because the
// replicas must know the front's address before they start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ZtshError } from '@ztsh/protocol';

export interface Backend {
  host: string;
  port: number;
}

export interface HaproxyOptions {
  /** The haproxy binary; default: `haproxy` on PATH, else /usr/sbin/haproxy. */
  binary?: string;
  /** PATH to look in; default process.env.PATH. */
  path?: string | undefined;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (any free port, read back). */
  port?: number;
  /** Most backends at once (slots of the server template); default 16. */
  maxBackends?: number;
  /**
   * Health check: a GET of this path over TLS (ztshd: /readyz), which must
   * answer 200; default a TCP connect. Either way a dead backend is out
   * after one failed check, 500 ms apart.
   */
  healthPath?: string;
  /** roundrobin (the default) or leastconn. */
  balance?: 'roundrobin' | 'leastconn';
}

export interface BackendState {
  slot: string;
  addr: string;
  /** UP, DOWN, MAINT, ... as haproxy reports it. */
  status: string;
  /** Set once a health check has run (L4OK, L4CON, L7OK, ...). */
  check: string;
}

export interface HaproxyFront {
  host: string;
  port: number;
  /** The haproxy process. */
  pid: number;
  /**
   * Replaces the backends (connections to a backend taken out are cut);
   * resolves once every one has passed a health check (default: within 15 s).
   */
  setBackends(backends: Backend[], options?: { timeoutMs?: number }): Promise<void>;
  /** The backends in use, as haproxy sees them now. */
  backends(): Promise<BackendState[]>;
  /** Resolves when haproxy has marked this backend down (a killed replica). */
  waitDown(backend: Backend, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const BACKEND = 'replicas';
const SLOT = 'r';

/** The haproxy binary to run, or an error that says how to get one. */
export function findHaproxy(pathEnv: string | undefined = process.env.PATH): string {
  for (const dir of (pathEnv ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'haproxy'))) return join(dir, 'haproxy');
  }
  // Debian installs it in /usr/sbin, which is not on a normal user's PATH.
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  throw new ZtshError('unavailable', 'haproxy is not installed: several replicas need it as their one front address', {
    hint: 'install it (apt-get install haproxy, dnf install haproxy, brew install haproxy), or run one replica',
  });
}

/** The whole haproxy config; `admin` is the admin socket's path. */
export function haproxyConfig(options: { admin: string; maxBackends: number; healthPath?: string | undefined; balance: 'roundrobin' | 'leastconn' }): string {
  if (options.healthPath !== undefined && !/^\/[\w./-]*$/.test(options.healthPath)) {
    throw new ZtshError('invalid_config', `healthPath "${options.healthPath}": must be a plain path such as /readyz`);
  }
  const check = options.healthPath === undefined ? [] : ['  option httpchk', `  http-check send meth GET uri ${options.healthPath}`, '  http-check expect status 200'];
  return [
    'global',
    `  stats socket ${options.admin} mode 600 level admin`,
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    // A connection refused by a replica that just died (before a check has seen it)
    // is tried again on another one, so the client never sees that replica's death.
    '  retries 2',
    '  option redispatch 1',
    // kubectl get -w and logs -f can stay silent for long, agents hold their tunnels for
    // days (they ping): an idle cut-off shorter than an hour would end them for nothing.
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    '  timeout client-fin 30s',
    '  timeout server-fin 30s',
    '',
    'frontend front',
    '  bind fd@3',
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    `  balance ${options.balance}`,
    ...check,
    // Three failed checks in a row (250 ms apart once one failed) take a dead replica
    // out, and its connections are cut so agents and clients reconnect to a live one at
    // once. Not one: a replica slow to answer a check on a busy machine would be taken
    // out, cutting every live watch and tunnel on it, for nothing. A killed replica
    // refuses at once, so its checks fail fast and new connections are redispatched.
    '  timeout check 3s',
    `  default-server inter 500ms fastinter 250ms downinter 500ms fall 3 rise 1 on-marked-down shutdown-sessions${options.healthPath === undefined ? '' : ' check-ssl verify none'}`,
    `  server-template ${SLOT} 1-${options.maxBackends} 127.0.0.1:1 check disabled`,
    '',
  ].join('\n');
}

export async function startHaproxy(initial: Backend[], options: HaproxyOptions = {}): Promise<HaproxyFront> {
  const binary = options.binary ?? findHaproxy(options.path);
  const maxBackends = options.maxBackends ?? 16;
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-haproxy-'));
  const admin = join(dir, 'admin.sock');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig({ admin, maxBackends, healthPath: options.healthPath, balance: options.balance ?? 'roundrobin' }), { mode: 0o600 });

  const host = options.host ?? '127.0.0.1';
  const socket = await bound(host, options.port ?? 0);
  const port = (socket.address() as AddressInfo).port;
  // libuv's fd of the listening socket: Node has no public accessor for it, and
  // passing the bound socket is what lets port 0 work without a race.
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  let child: ChildProcess;
  try {
    child = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  } finally {
    // haproxy holds its own copy now; Node must not accept on it too.
    socket.close();
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      resolve(-1);
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!gone) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const command = (line: string) => adminCommand(admin, line);
  try {
    await waitFor(async () => {
      if (gone) throw new ZtshError('unavailable', `haproxy exited at start: ${stderr.trim() || 'no message'}`, { hint: `its config: ${file}` });
      return (await command('show info').catch(() => '')).includes('Name: HAProxy');
    }, 10_000, 'haproxy did not open its admin socket');
  } catch (error) {
    await stop();
    throw error;
  }

  let inUse = new Map<number, Backend>();
  const states = async (): Promise<BackendState[]> => {
    const csv = await command('show stat');
    const lines = csv.split('\n').filter((l) => l.startsWith(`${BACKEND},${SLOT}`));
    const head = csv.split('\n')[0]!.replace(/^# /, '').split(',');
    const col = (name: string) => head.indexOf(name);
    return lines.map((l) => {
      const f = l.split(',');
      return { slot: f[col('svname')]!, addr: f[col('addr')]!, status: f[col('status')]!, check: f[col('check_status')]! };
    });
  };
  const slotOf = (b: Backend) => [...inUse].find(([, x]) => x.host === b.host && x.port === b.port)?.[0];

  const front: HaproxyFront = {
    host,
    port,
    pid: child.pid!,
    async setBackends(backends, setOptions = {}) {
      if (backends.length > maxBackends) throw new ZtshError('bad_request', `at most ${maxBackends} backends`);
      // A backend that stays keeps its slot, so its open connections (a watch,
      // an agent's tunnel) live on; only backends that leave are cut.
      const next = new Map<number, Backend>();
      const same = (a: Backend, b: Backend) => a.host === b.host && a.port === b.port;
      const added: Backend[] = [];
      for (const b of backends) {
        const kept = [...inUse].find(([slot, old]) => same(old, b) && !next.has(slot));
        if (kept) next.set(kept[0], b);
        else added.push(b);
      }
      for (let slot = 1; added.length > 0; slot++) if (!next.has(slot)) next.set(slot, added.shift()!);
      for (const [slot, b] of next) {
        const name = `${BACKEND}/${SLOT}${slot}`;
        const old = inUse.get(slot);
        if (old && old.host === b.host && old.port === b.port) continue;
        await expectOk(command(`set server ${name} state maint`));
        // Connections still open to the backend this slot held go too, as they would on a real cut-over.
        if (old) await expectOk(command(`shutdown sessions server ${name}`));
        await expectOk(command(`set server ${name} addr ${b.host} port ${b.port}`));
        await expectOk(command(`set server ${name} state ready`));
      }
      for (const slot of inUse.keys()) {
        if (next.has(slot)) continue;
        await expectOk(command(`set server ${BACKEND}/${SLOT}${slot} state maint`));
        await expectOk(command(`shutdown sessions server ${BACKEND}/${SLOT}${slot}`));
      }
      inUse = next;
      // Up only once a check has passed: a backend leaving maintenance counts as up before its first check.
      await waitFor(async () => {
        const now = await states();
        return [...next.keys()].every((slot) => {
          const s = now.find((x) => x.slot === `${SLOT}${slot}`);
          return s !== undefined && s.status === 'UP' && /OK$/.test(s.check);
        });
      }, setOptions.timeoutMs ?? 15_000, 'a backend did not pass its health check');
    },
    backends: async () => (await states()).filter((s) => inUse.has(Number(s.slot.slice(SLOT.length)))),
    async waitDown(backend, timeoutMs = 10_000) {
      const slot = slotOf(backend);
      if (slot === undefined) throw new Error(`${backend.host}:${backend.port} is not a backend`);
      await waitFor(async () => (await states()).find((s) => s.slot === `${SLOT}${slot}`)?.status.startsWith('DOWN') === true, timeoutMs, `haproxy did not mark ${backend.host}:${backend.port} down`);
    },
    stop,
  };
  if (initial.length > 0) {
    try {
      await front.setBackends(initial);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return front;
}

function bound(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

/** One command on haproxy's admin socket; resolves with its answer. */
function adminCommand(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.once('error', reject);
    socket.once('end', () => resolve(out));
    socket.end(`${line}\n`);
  });
}

async function expectOk(answer: Promise<string>): Promise<void> {
  const text = (await answer).trim();
  // Success is an empty answer or a note of what changed; failures name themselves.
  if (/^(No such|Require|Unknown|.*[Ii]nvalid|.*failed)/.test(text)) throw new Error(`haproxy admin socket: ${text}`);
}

/**
 * Polls haproxy's own state (it has no event stream to subscribe to) every
 * 25 ms until `done` holds.
 */
async function waitFor(done: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`${message} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
