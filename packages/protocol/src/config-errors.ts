// Config files of every deployable (ztshd, ztsh-agent) are checked here.
// Turns zod issues into one readable message that names the exact path and,
// where zod knows them, the allowed values or keys.
import type { z } from 'zod';
import { ZtshError } from './errors.ts';

export function formatIssuePath(path: readonly PropertyKey[], root = ''): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

export function describeIssue(issue: z.core.$ZodIssue, root = ''): string {
  const where = formatIssuePath(issue.path, root);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${formatIssuePath([...issue.path, k], root)}: unknown key`).join('; ');
    case 'invalid_value':
      return `${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

export function parseConfig<T extends z.ZodType>(
  schema: T,
  value: unknown,
  source: string,
  root = '',
  hint = 'see docs/configuration.md for every key and its allowed values',
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => describeIssue(i, root));
  throw new ZtshError('invalid_config', `${source}: ${problems.join('; ')}`, {
    hint,
    details: { problems },
  });
}
