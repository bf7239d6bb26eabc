// One row shape of an access request for both engines: lists and the
// reviews are JSON text; times are integers (ms). Only the user column's name
// differs (PostgreSQL reserves `user`).
import type { AccessRequestRecord } from './storage.ts';

type Row = Record<string, unknown>;

/** Record field -> column, for every field but the user's. */
export const ACCESS_REQUEST_COLUMNS = {
  id: 'id',
  roles: 'roles',
  resources: 'resources',
  reason: 'reason',
  state: 'state',
  createdAt: 'created_at',
  pendingUntil: 'pending_until',
  durationMs: 'duration_ms',
  accessUntil: 'access_until',
  thresholds: 'thresholds',
  suggestedReviewers: 'suggested_reviewers',
  reviews: 'reviews',
  version: 'version',
} as const satisfies Record<Exclude<keyof AccessRequestRecord, 'user'>, string>;

const JSON_FIELDS = new Set<keyof AccessRequestRecord>(['roles', 'resources', 'thresholds', 'suggestedReviewers', 'reviews']);

/** The value a column holds for a record field. */
export function accessRequestColumnValue(field: keyof AccessRequestRecord, value: unknown): unknown {
  return JSON_FIELDS.has(field) ? JSON.stringify(value) : value;
}

export function accessRequestFromRow(row: Row, userColumn: 'user' | 'user_name'): AccessRequestRecord {
  const json = <T>(column: string): T => JSON.parse(row[column] as string) as T;
  return {
    id: row.id as string,
    user: row[userColumn] as string,
    roles: json('roles'),
    resources: json('resources'),
    reason: row.reason as string,
    state: row.state as AccessRequestRecord['state'],
    createdAt: Number(row.created_at),
    pendingUntil: Number(row.pending_until),
    durationMs: Number(row.duration_ms),
    accessUntil: row.access_until === null || row.access_until === undefined ? null : Number(row.access_until),
    thresholds: json('thresholds'),
    suggestedReviewers: json('suggested_reviewers'),
    reviews: json('reviews'),
    version: Number(row.version),
  };
}

/** The columns and values of an insert, in one order. */
export function accessRequestInsert(r: AccessRequestRecord, userColumn: 'user' | 'user_name'): { columns: string[]; values: unknown[] } {
  const columns: string[] = [userColumn];
  const values: unknown[] = [r.user];
  for (const [field, column] of Object.entries(ACCESS_REQUEST_COLUMNS) as [keyof typeof ACCESS_REQUEST_COLUMNS, string][]) {
    columns.push(column);
    values.push(accessRequestColumnValue(field, r[field]));
  }
  return { columns, values };
}

/** The SET list of an update, with the version bumped, and its values in order after `first` placeholders. */
export function accessRequestPatch(
  patch: Partial<AccessRequestRecord>,
  placeholder: (n: number) => string,
  first: number,
): { sets: string; values: unknown[] } {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [field, value] of Object.entries(patch) as [keyof AccessRequestRecord, unknown][]) {
    if (value === undefined || field === 'id' || field === 'user' || field === 'version') continue;
    const column = (ACCESS_REQUEST_COLUMNS as Record<string, string>)[field];
    if (!column) throw new Error(`access request field ${field} has no column`);
    values.push(accessRequestColumnValue(field, value));
    sets.push(`${column} = ${placeholder(first + values.length)}`);
  }
  sets.push('version = version + 1');
  return { sets: sets.join(', '), values };
}

/** Most requests a list answers with. */
export const MAX_ACCESS_REQUEST_LIST = 1000;
