// Files of the benchmark's pod in the apiserver double: an application log
// (printable text to stream, as `kubectl exec … -- head -c N` or `cat` of a log
// would), and the small files an engineer looks at in a shell.
import type { PodFs } from '@ztsh/testkit';
import { prng } from './audit-events.ts';

export const APP_LOG = '/var/log/app/app.log';
export const APP_CONFIG = '/etc/app/config.yaml';

const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const ROUTES = ['GET /api/v1/orders', 'POST /api/v1/orders', 'GET /api/v1/orders/{id}', 'GET /healthz', 'PUT /api/v1/carts/{id}', 'GET /api/v1/search', 'POST /api/v1/payments'];

/** Log lines of about 150 bytes, at least `bytes` of them in all. */
export function appLog(bytes: number): Buffer {
  const rnd = prng(11);
  const lines: string[] = [];
  let size = 0;
  let t = Date.UTC(2026, 9, 30, 8);
  while (size < 1024 * 1024) {
    t += Math.floor(rnd() * 40);
    const line = `${new Date(t).toISOString()} ${LEVELS[Math.floor(rnd() * LEVELS.length)]} [http-nio-8080-exec-${1 + Math.floor(rnd() * 32)}] c.e.orders.Api - ${ROUTES[Math.floor(rnd() * ROUTES.length)]} status=${rnd() < 0.95 ? 200 : 503} duration_ms=${Math.floor(rnd() * rnd() * 900)} trace_id=${Math.floor(rnd() * 2 ** 52).toString(16)}\n`;
    lines.push(line);
    size += line.length;
  }
  const block = Buffer.from(lines.join(''));
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / block.length) }, () => block));
}

const CONFIG = `server:
  port: 8080
  shutdown: graceful
  max-connections: 2000
database:
  host: postgres.payments.svc.cluster.local
  port: 5432
  name: orders
  pool:
    min: 4
    max: 32
    idle-timeout: 60s
cache:
  redis: redis-master.payments.svc.cluster.local:6379
  ttl: 300s
features:
  new-checkout: true
  async-refunds: false
  search-v2: true
logging:
  level: info
  format: json
tracing:
  endpoint: http://otel-collector.monitoring:4317
  sample-rate: 0.05
`;

export function seedPodFiles(fs: PodFs, logBytes: number): void {
  fs.mkdir('/var/log/app', { parents: true });
  fs.mkdir('/etc/app', { parents: true });
  fs.writeFile(APP_LOG, appLog(logBytes));
  fs.writeFile(APP_CONFIG, Buffer.from(CONFIG));
  fs.writeFile('/etc/hostname', Buffer.from('orders-api-7f9c6d8b5-x2k4p\n'));
  fs.writeFile('/etc/resolv.conf', Buffer.from('search payments.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n'));
  fs.mkdir('/app', {});
  for (const f of ['orders-api.jar', 'application.yaml', 'logback.xml', 'entrypoint.sh']) fs.writeFile(`/app/${f}`, Buffer.from('x'));
}
