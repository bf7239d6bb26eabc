// Reads the kubeconfig the way kubectl does: the files listed in $KUBECONFIG
// (joined by ':', ';' on Windows), else $HOME/.kube/config. Files that do not
// exist are skipped. Across files, the first file to set a cluster, user or
// context name wins, and so does the first to set current-context. Relative
// paths inside a file are relative to that file's folder.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { describeIssue } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';

const optionalString = z.string().nullish();

const KubeClusterSchema = z.looseObject({
  server: optionalString,
  'certificate-authority': optionalString,
  'certificate-authority-data': optionalString,
  'insecure-skip-tls-verify': z.boolean().nullish(),
  'proxy-url': optionalString,
});

const KubeUserSchema = z.looseObject({
  token: optionalString,
  tokenFile: optionalString,
  'client-certificate': optionalString,
  'client-certificate-data': optionalString,
  'client-key': optionalString,
  'client-key-data': optionalString,
  username: optionalString,
  password: optionalString,
  exec: z.looseObject({ command: optionalString }).nullish(),
  'auth-provider': z.looseObject({ name: optionalString }).nullish(),
});

const KubeContextSchema = z.looseObject({ cluster: optionalString, user: optionalString, namespace: optionalString });

const KubeconfigFileSchema = z.looseObject({
  'current-context': optionalString,
  clusters: z.array(z.looseObject({ name: z.string(), cluster: KubeClusterSchema.nullish() })).nullish(),
  users: z.array(z.looseObject({ name: z.string(), user: KubeUserSchema.nullish() })).nullish(),
  contexts: z.array(z.looseObject({ name: z.string(), context: KubeContextSchema.nullish() })).nullish(),
});

export type KubeCluster = z.infer<typeof KubeClusterSchema>;
export type KubeUser = z.infer<typeof KubeUserSchema>;
export type KubeContext = z.infer<typeof KubeContextSchema>;

/** Several kubeconfig files merged into one. */
export interface Kubeconfig {
  /** The files that existed and were read, in order. */
  files: string[];
  currentContext?: string | undefined;
  clusters: Map<string, KubeCluster>;
  users: Map<string, KubeUser>;
  contexts: Map<string, KubeContext>;
}

/** The files kubectl would read, in order of precedence; [] when neither KUBECONFIG nor HOME is set. */
export function kubeconfigPaths(env: Record<string, string | undefined>): string[] {
  if (env.KUBECONFIG) return [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))];
  return env.HOME ? [join(env.HOME, '.kube', 'config')] : [];
}

export function loadKubeconfig(paths: string[]): Kubeconfig {
  const merged: Kubeconfig = { files: [], clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const file = readKubeconfigFile(path);
    merged.files.push(path);
    merged.currentContext ||= file['current-context'] || undefined;
    const base = dirname(path);
    for (const [name, cluster] of named(path, 'clusters', file.clusters, (e) => e.cluster ?? {})) {
      if (!merged.clusters.has(name)) merged.clusters.set(name, resolvePaths(base, cluster, ['certificate-authority']));
    }
    for (const [name, user] of named(path, 'users', file.users, (e) => e.user ?? {})) {
      if (!merged.users.has(name)) merged.users.set(name, resolvePaths(base, user, ['client-certificate', 'client-key', 'tokenFile']));
    }
    for (const [name, context] of named(path, 'contexts', file.contexts, (e) => e.context ?? {})) {
      if (!merged.contexts.has(name)) merged.contexts.set(name, context);
    }
  }
  return merged;
}

function readKubeconfigFile(path: string): z.infer<typeof KubeconfigFileSchema> {
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    // The first line only: YAML errors go on with a code frame.
    throw new ZtshError('invalid_config', `cannot read kubeconfig ${path}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  // An empty file is an empty kubeconfig.
  const result = KubeconfigFileSchema.safeParse(value ?? {});
  if (!result.success) throw new ZtshError('invalid_config', `kubeconfig ${path}: ${result.error.issues.map((i) => describeIssue(i)).join('; ')}`);
  return result.data;
}

/** A file's list as name → value; a name twice in one file is an error, as in kubectl. */
function named<E extends { name: string }, T>(path: string, list: string, entries: E[] | null | undefined, value: (e: E) => T): Map<string, T> {
  const out = new Map<string, T>();
  for (const entry of entries ?? []) {
    if (out.has(entry.name)) throw new ZtshError('invalid_config', `kubeconfig ${path}: ${list} has "${entry.name}" twice`);
    out.set(entry.name, value(entry));
  }
  return out;
}

function resolvePaths<T extends Record<string, unknown>>(base: string, value: T, keys: (keyof T & string)[]): T {
  const out: Record<string, unknown> = { ...value };
  for (const key of keys) {
    const path = out[key];
    if (typeof path === 'string' && path) out[key] = resolve(base, path);
  }
  return out as T;
}
