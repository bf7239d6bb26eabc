export * from './errors.ts';
export * from './identity.ts';
export * from './audit-events.ts';
export * from './api.ts';
export * from './kube-wire.ts';
export * from './asciicast.ts';
export * from './peer-identity.ts';
export * from './audit-api.ts';
