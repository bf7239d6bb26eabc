export * from './config.ts';
export * from './start.ts';
export * from './dev-stack.ts';
export * from './tls.ts';
export { KUBECONFIG_LABELS, type DevCluster, type DevClusterSource } from './dev-cluster.ts';
export { clusterNameFor } from './kubeconfig-context.ts';
export { listeningPort } from './listening-line.ts';
export { startHaproxy, findHaproxy, type Backend, type BackendState, type HaproxyFront, type HaproxyOptions } from './haproxy-front.ts';
