// One error type for the whole system. Each error carries a stable `code`
// (clients branch on it, never on message text), the HTTP status it maps to,
// whether its message is safe to show (`expose`), an optional hint for humans,
// and the lower-level `cause`, which stays in the logs.

export const ErrorCodes = {
  bad_request: 400,
  invalid_config: 400,
  unknown_connector: 400,
  login_not_found: 404,
  login_expired: 410,
  code_invalid: 400,
  token_invalid: 403,
  verifier_mismatch: 400,
  state_mismatch: 400,
  id_token_invalid: 401,
  idp_error: 502,
  idp_denied: 403,
  no_roles: 403,
  mfa_required: 401,
  mfa_failed: 401,
  mfa_code_reused: 401,
  mfa_locked: 429,
  unauthenticated: 401,
  access_denied: 403,
  locked: 403,
  not_found: 404,
  conflict: 409,
  authorization_pending: 400,
  slow_down: 400,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ZtshErrorOptions {
  cause?: unknown;
  hint?: string;
  /** Safe to send to the client. Defaults to true below 500, false for 5xx. */
  expose?: boolean;
  details?: Record<string, unknown>;
}

export class ZtshError extends Error {
  override readonly name = 'ZtshError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ZtshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ErrorCodes[code];
    this.expose = options.expose ?? this.status < 500;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The JSON body an API client receives. */
  toJSON(): ApiErrorBody {
    if (!this.expose) return { error: { code: 'internal', message: 'internal error' } };
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.hint ? { hint: this.hint } : {}),
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}
