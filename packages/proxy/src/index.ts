export * from './kube-request-info.ts';
export * from './kube-authorize.ts';
export * from './auth-client.ts';
export * from './agent-tunnels.ts';
export * from './proxy-server.ts';
export { SPDY_REFUSAL } from './kube-upgrade.ts';
export { recoverSessions } from './sessions/recover.ts';
export { AsciicastWriter, FLUSH_MS } from './sessions/asciicast.ts';
export { LiveStreams } from './live-streams.ts';
