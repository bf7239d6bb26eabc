// Per-pod state that is not in the stored object: its filesystem (for cp/exec) and the pod
// builder behind KubeDouble.addPod — a Running pod with ready containers named as asked.
import type { PodFs } from './pod-fs.ts';
import { createPodFs } from './pod-fs.ts';
import type { KubeObject } from './store.ts';

export interface PodSpecOptions {
  logs?: string[];
  containers?: string[];
}

export function podObject(namespace: string, name: string, opts: PodSpecOptions = {}): KubeObject {
  const containers = opts.containers?.length ? opts.containers : ['main'];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      containers: containers.map((c) => ({ name: c, image: 'busybox:1.36', stdin: true, tty: true })),
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
