// What the apiserver and the controllers would have filled in: a pod is at once scheduled and
// Running with every container ready (there is no kubelet here), a deployment is fully rolled
// out, a namespace is Active. Enough for kubectl's columns, `exec`'s phase check and `logs`.
import type { ResourceInfo } from './resources.ts';
import type { KubeObject } from './store.ts';

type Json = Record<string, unknown>;

const NODE_NAME = 'kube-double-node';

function asObject(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** `seq` numbers the addresses handed out (pod and cluster IPs), one counter per store. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject, startTime: string, seq: () => number): void {
  switch (`${info.group}/${info.resource}`) {
    case '/pods':
      return podDefaults(obj, startTime, seq);
    case 'apps/deployments':
      return deploymentDefaults(obj);
    case '/namespaces':
      obj.spec = { finalizers: ['kubernetes'], ...asObject(obj.spec) };
      obj.status = { phase: 'Active', ...asObject(obj.status) };
      return;
    case '/secrets': {
      obj.type ??= 'Opaque';
      // stringData is write-only: the apiserver folds it into data, base64-encoded.
      const data = asObject(obj.data);
      for (const [k, v] of Object.entries(asObject(obj.stringData))) data[k] = Buffer.from(String(v)).toString('base64');
      if (obj.stringData !== undefined) obj.data = data;
      delete obj.stringData;
      return;
    }
    case '/services': {
      const spec = asObject(obj.spec);
      spec.type ??= 'ClusterIP';
      if (!spec.clusterIP) spec.clusterIP = `10.96.${ip(seq())}`;
      obj.spec = spec;
      return;
    }
  }
}

/** The last two octets for the n-th address: 0.10, 0.11, … 1.0, … */
function ip(n: number): string {
  const k = n + 10;
  return `${Math.floor(k / 250) % 250}.${k % 250}`;
}

function podDefaults(obj: KubeObject, startTime: string, seq: () => number): void {
  const spec = asObject(obj.spec);
  const containers = Array.isArray(spec.containers) ? (spec.containers as Json[]) : [];
  spec.containers = containers;
  spec.nodeName ??= NODE_NAME;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  obj.spec = spec;
  const status = asObject(obj.status);
  if (status.phase === undefined) {
    const podIp = `10.244.${ip(seq())}`;
    Object.assign(status, {
      phase: 'Running',
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: startTime,
      })),
      hostIP: '10.0.0.1',
      podIP: podIp,
      podIPs: [{ ip: podIp }],
      startTime,
      qosClass: 'BestEffort',
    });
  }
  status.containerStatuses = containers.map((c) => ({
    name: c.name,
    image: c.image,
    imageID: '',
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: startTime } },
    lastState: {},
    containerID: `containerd://${String(c.name)}`,
  }));
  obj.status = status;
}

function deploymentDefaults(obj: KubeObject): void {
  const spec = asObject(obj.spec);
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
  obj.spec = spec;
  const replicas = spec.replicas as number;
  obj.status = {
    observedGeneration: obj.metadata.generation ?? 1,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [
      { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
      { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet has successfully progressed.' },
    ],
  };
}
