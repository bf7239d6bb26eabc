// A real load balancer in front of servers a test started: Debian's haproxy
// in TCP mode (TLS passes through), on 127.0.0.1 and a free port, killed
// when the test process ends. The same front `ztshd dev --replicas` runs
// (packages/server/src/haproxy-front.ts). No haproxy is an error, not a
// skip: CI installs it (.ci/run).
import { startHaproxy as start, type Backend, type HaproxyFront, type HaproxyOptions } from '@ztsh/server';

export type { Backend, HaproxyFront };

/** `healthPath: '/readyz'` in front of ztshd replicas; a TCP check otherwise. */
export function startHaproxy(backends: Backend[], options: HaproxyOptions = {}): Promise<HaproxyFront> {
  return start(backends, options);
}
