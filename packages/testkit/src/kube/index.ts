// Kubernetes API server test double — the only stand-in for a kube-apiserver in this project.
// It speaks what the real kubectl (1.30+) sends, checked against kubectl 1.33 and 1.30:
//
//   https (h2 + http/1.1) ─▶ server.ts ─┬─ request ─▶ routes.ts ─▶ admission.ts (token 401,
//                                       │               impersonation, rbac.ts 403)
//                                       │             ├─ discovery.ts, openapi.ts
//                                       │             ├─ logs.ts (logs -f)
//                                       │             └─ rest.ts ─▶ store.ts, patch.ts, table.ts,
//                                       │                          watch.ts, scale.ts, protobuf.ts
//                                       └─ upgrade ─▶ upgrade.ts ─┬─ exec.ts (v5/v4.channel.k8s.io)
//                                                                 │   └─ commands.ts, head.ts, tar.ts, pod-fs.ts
//                                                                 └─ portforward.ts ─ spdy.ts ─┬▶ pod-http.ts (ports the pod declares)
//                                                                                              └▶ echo-server.ts (any other port)
//
// kubectl-runner.ts holds helpers for tests that drive the real kubectl.
export { startKubeDouble } from './server.ts';
export type { KubeDouble, KubeDoubleOptions, SeenRequest } from './context.ts';
export type { RbacRule } from './rbac.ts';
export type { PodFs, FsEntry } from './pod-fs.ts';
export type { PodSpecOptions } from './pods.ts';
export type { LiveLog } from './logs.ts';
export type { KubeStatus } from './status.ts';
export {
  findKubectl,
  runKubectl,
  startKubectl,
  writeKubeconfig,
  type KubeconfigOptions,
  type RunOptions,
  type RunResult,
  type RunningKubectl,
} from './kubectl-runner.ts';
