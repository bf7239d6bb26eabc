// How a tunnel ends when its agent breaks the protocol: the WebSocket close
// code (RFC 6455 §7.4.1) it is closed with and the reason the audit event
// and the log line give.
import type { AuthClient, MaybePromise } from '@ztsh/protocol';

export const CLOSE = {
  protocol: 1002,
  unsupportedData: 1003,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
} as const;

export interface Breach {
  /** Stable, for audit searches: not_http2, http2_error, text_message, message_too_big, ... */
  reason: string;
  code: number;
  /** Safe to audit and to send to the agent as the close reason. */
  message: string;
  err?: unknown;
}

/** A refused or broken tunnel's audit event (a security event: stored before the proxy goes on). */
export type TunnelAudit = (type: 'tunnel.refused' | 'tunnel.closed', input: Parameters<AuthClient['audit']>[2]) => MaybePromise<void>;

/** The breach behind an 'error' of the tunnel's WebSocket: ws has already closed it with the matching code. */
export function breachOfWebSocket(err: Error & { code?: string }): Breach {
  switch (err.code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return { reason: 'message_too_big', code: CLOSE.tooBig, message: 'a tunnel message was larger than the proxy accepts', err };
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return { reason: 'too_many_fragments', code: CLOSE.policy, message: 'a tunnel message came in too many fragments', err };
    case 'WS_ERR_INVALID_UTF8':
      return { reason: 'invalid_utf8', code: CLOSE.invalidData, message: 'a tunnel message was not valid UTF-8', err };
    default:
      return { reason: 'websocket_error', code: CLOSE.protocol, message: 'the agent broke the WebSocket protocol', err };
  }
}
