// Adds or replaces one cluster, user and context in a kubeconfig, keeping
// every other entry and comment as it was, and writes it back 0600.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { CliError } from './cli-error.ts';

/**
 * How kubectl gets the certificate: `file`, the path of one PEM file holding
 * certificate and key (kubectl reads it itself, no process started); or
 * `exec`, a credential plugin kubectl runs before every command.
 */
export type KubeUser =
  | { file: string }
  | { exec: { command: string; args: string[]; env: { name: string; value: string }[]; interactiveMode?: 'Never' | 'IfAvailable' } };

export interface KubeEntry {
  name: string;
  server: string;
  caData?: string | undefined;
  user: KubeUser;
}

/** The file kubectl writes new entries to: the first of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(env: Record<string, string | undefined>, home: string): string {
  const first = env.KUBECONFIG?.split(process.platform === 'win32' ? ';' : ':').find(Boolean);
  return first ?? `${home}/.kube/config`;
}

function upsert(doc: Document, list: string, name: string, value: object): void {
  let seq = doc.get(list);
  if (!isSeq(seq)) {
    doc.set(list, doc.createNode([]));
    seq = doc.get(list);
  }
  const items = (seq as { items: unknown[] }).items;
  const node = doc.createNode({ name, ...value });
  const at = items.findIndex((item) => isMap(item) && item.get('name') === name);
  if (at >= 0) items[at] = node;
  else items.push(node);
}

export function writeKubeEntry(path: string, entry: KubeEntry): void {
  let doc: Document;
  if (existsSync(path)) {
    doc = parseDocument(readFileSync(path, 'utf8'));
    if (doc.errors.length > 0) throw new CliError(`${path} is not valid YAML: ${doc.errors[0]!.message}`, 'fix or move it, then run this again');
    if (doc.contents === null) doc = parseDocument('{}');
  } else {
    doc = parseDocument('apiVersion: v1\nkind: Config\npreferences: {}\n');
  }
  if (!doc.has('apiVersion')) doc.set('apiVersion', 'v1');
  if (!doc.has('kind')) doc.set('kind', 'Config');
  upsert(doc, 'clusters', entry.name, {
    cluster: { server: entry.server, ...(entry.caData ? { 'certificate-authority-data': entry.caData } : {}) },
  });
  const user = entry.user;
  upsert(doc, 'users', entry.name, {
    // Values go in as data: the yaml library quotes whatever a path holds.
    user:
      'file' in user
        ? { 'client-certificate': user.file, 'client-key': user.file }
        : {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: user.exec.command,
              args: user.exec.args,
              env: user.exec.env.length ? user.exec.env : null,
              // IfAvailable lets kubectl pass its terminal to a plugin that may ask for a code (session MFA).
              interactiveMode: user.exec.interactiveMode ?? 'Never',
              provideClusterInfo: false,
            },
          },
  });
  upsert(doc, 'contexts', entry.name, { context: { cluster: entry.name, user: entry.name } });
  doc.set('current-context', entry.name);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.ztsh-${process.pid}`;
  writeFileSync(tmp, doc.toString(), { mode: 0o600 });
  renameSync(tmp, path);
}
