// Per-pod state that is not in the stored object: its filesystem (for cp/exec) and the pod
// builder behind KubeDouble.addPod — a Running pod with ready containers named as asked,
// declaring an HTTP port when asked (pod-http.ts answers on it).
import type { LiveLog } from './logs.ts';
import type { PodFs } from './pod-fs.ts';
import { createPodFs } from './pod-fs.ts';
import type { KubeObject } from './store.ts';

export interface PodSpecOptions {
  /** Lines already in the pod's log. */
  logs?: string[];
  /** Lines the pod keeps writing while its logs are followed (see logs.ts). */
  liveLog?: LiveLog;
  containers?: string[];
  /** A port the first container declares (name `http`): port-forward to it gets an HTTP answer. */
  httpPort?: number;
}

export function podObject(namespace: string, name: string, opts: PodSpecOptions = {}): KubeObject {
  const containers = opts.containers?.length ? opts.containers : ['main'];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      containers: containers.map((c, i) => ({
        name: c,
        image: 'busybox:1.36',
        stdin: true,
        tty: true,
        ...(i === 0 && opts.httpPort !== undefined ? { ports: [{ name: 'http', containerPort: opts.httpPort, protocol: 'TCP' }] } : {}),
      })),
    },
  };
}

export interface PodFiles {
  get(namespace: string, pod: string): PodFs;
  forget(namespace: string, pod: string): void;
}

export function createPodFiles(now: () => Date): PodFiles {
  const all = new Map<string, PodFs>();
  return {
    get(ns, pod) {
      const key = `${ns}/${pod}`;
      let fs = all.get(key);
      if (!fs) {
        fs = createPodFs(now);
        all.set(key, fs);
      }
      return fs;
    },
    forget: (ns, pod) => void all.delete(`${ns}/${pod}`),
  };
}

/** The TCP ports the pod's containers declare. */
export function declaredPorts(pod: KubeObject): Set<number> {
  const containers = (pod.spec as { containers?: { ports?: { containerPort?: unknown; protocol?: unknown }[] }[] } | undefined)?.containers ?? [];
  const ports = new Set<number>();
  for (const c of Array.isArray(containers) ? containers : []) {
    for (const p of Array.isArray(c?.ports) ? c.ports : []) {
      if (typeof p?.containerPort === 'number' && (p.protocol ?? 'TCP') === 'TCP') ports.add(p.containerPort);
    }
  }
  return ports;
}
