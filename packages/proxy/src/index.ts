export * from './kube-request-info.ts';
export * from './kube-authorize.ts';
