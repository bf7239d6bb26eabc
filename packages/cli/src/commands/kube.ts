// ztsh kube ls | login | mfa | credentials: reach clusters through the proxy
// with plain kubectl. The kubeconfig entry names the file `ztsh login` keeps
// the current certificate and key in (home.ts), so kubectl starts no other
// process; with --exec-plugin it runs `ztsh kube credentials` instead, an
// exec credential plugin: a Node start before every kubectl command. A
// cluster that requires session MFA always gets the plugin, with
// --session-mfa: it presents the session MFA certificate `ztsh kube mfa` (or
// the plugin itself, on kubectl's terminal) got for it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
import { parse } from 'yaml';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { resolveProxy, withUserApi, type CliContext } from '../context.ts';
import { credentialOutput } from '../credential-plugin/credential-output.ts';
import { validLogin } from '../credential-plugin/exec-credential.ts';
import { readKeyPair } from '../credential-plugin/read-key-pair.ts';
import { clusterMarks, describeSessionMfa, noBrowser, userApi, verifySessionMfa, type SessionMfaCheck } from '../credential-plugin/session-mfa-prompt.ts';
import { chooseSessionMfaMethod, parseSessionMfaMethod } from '../credential-plugin/session-mfa-method.ts';
import { parseTimeout } from './login.ts';
import { openTerminal } from '../credential-plugin/terminal.ts';
import { kubeconfigPath, writeKubeEntry } from '../kubeconfig.ts';
import { requestableHint } from './requestable.ts';
import { selfCommand } from '../self-command.ts';
import { formatTable } from '../table.ts';
import { safeJson, safeText } from '../terminal-safe.ts';

const ClusterList = z.object({
  clusters: z.array(z.object({ name: z.string(), labels: z.record(z.string(), z.string()), online: z.boolean(), since: z.string(), sessionMfa: z.boolean().optional() })),
});

function clusters(ctx: CliContext, proxy: URL) {
  return withUserApi(ctx, proxy.origin, async (api) => (await api.call('GET', '/v1/clusters', ClusterList)).clusters);
}

export async function kubeLs(ctx: CliContext, options: { proxy?: string; format: string }): Promise<void> {
  const list = await clusters(ctx, resolveProxy(ctx, options.proxy));
  if (options.format === 'json') {
    ctx.stdout(safeJson(list));
    return;
  }
  if (list.length === 0) {
    ctx.stdout('No clusters you can reach.\n');
    return;
  }
  const labels = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',') || '-';
  // MFA: "session" where kubectl will ask for a fresh second factor (ztsh kube mfa), before it does.
  ctx.stdout(formatTable(['CLUSTER', 'STATUS', 'MFA', 'LABELS'], list.map((c) => [c.name, c.online ? 'online' : 'offline', c.sessionMfa ? 'session' : '-', labels(c.labels)])));
}

export function contextName(proxy: URL, cluster: string): string {
  return `${proxy.hostname}-${cluster}`;
}

export async function kubeLogin(ctx: CliContext, cluster: string, options: { proxy?: string; execPlugin?: boolean }): Promise<void> {
  const proxy = resolveProxy(ctx, options.proxy);
  const found = (await clusters(ctx, proxy)).find((c) => c.name === cluster);
  if (!found) {
    const ask = await requestableHint(ctx, proxy, cluster);
    if (ask) throw new CliError(`cluster "${cluster}": your roles do not reach it, but you may ask for a role that does`, ask);
    throw new CliError(`cluster "${cluster}" not found, or your roles do not reach it`, 'ztsh kube ls lists the clusters you can reach');
  }
  const trust = ctx.home.readTrust(proxy);
  const name = contextName(proxy, cluster);
  const path = kubeconfigPath(ctx.env, homedir());
  writeKubeEntry(path, {
    name,
    server: `${proxy.origin}/k8s/${cluster}`,
    caData: trust ? Buffer.from(trust).toString('base64') : undefined,
    user: found.sessionMfa ? execUser(ctx, proxy, cluster, true) : options.execPlugin ? execUser(ctx, proxy, cluster) : { file: credentialFile(ctx, proxy) },
  });
  ctx.stdout(
    `Context "${safeText(name)}" written to ${safeText(path)} and made current${found.online ? '' : ' (the cluster is offline right now)'}.\n` +
      (found.sessionMfa
        ? `This cluster requires session MFA: kubectl asks for a code from your authenticator app (or your security key, in the browser) when no check is fresh (or run ztsh kube mfa first).\n`
        : '') +
      `Try: kubectl get pods\n`,
  );
}

function execUser(ctx: CliContext, proxy: URL, cluster: string, sessionMfa = false) {
  const self = selfCommand();
  return {
    exec: {
      command: self.command,
      args: [...self.args, 'kube', 'credentials', '--proxy', proxy.origin, '--cluster', cluster, ...(sessionMfa ? ['--session-mfa'] : [])],
      env: ctx.env.ZTSH_HOME ? [{ name: 'ZTSH_HOME', value: ctx.env.ZTSH_HOME }] : [],
      // Only a plugin that may ask for a code gets kubectl's terminal.
      interactiveMode: sessionMfa ? ('IfAvailable' as const) : ('Never' as const),
    },
  };
}

/** The kube file's absolute path (kubectl reads a relative one from the kubeconfig's folder), made from the profile if a login before this version left none. */
function credentialFile(ctx: CliContext, proxy: URL): string {
  const file = resolve(ctx.home.credentialFile(proxy));
  if (!existsSync(file)) {
    const pair = readKeyPair(ctx.home.profileDir(proxy));
    if (!pair) throw new CliError(`not logged in to ${proxy.origin}`, `run ztsh login --proxy ${proxy.origin}`);
    ctx.home.writeCredentialFile(proxy, pair);
  }
  return file;
}

export async function kubeCredentials(ctx: CliContext, options: { proxy?: string; cluster?: string; sessionMfa?: boolean }): Promise<void> {
  // The same answer as the fast path (credential-plugin/), which kubectl normally reaches.
  ctx.stdout(await credentialOutput(ctx.home, resolveProxy(ctx, options.proxy), options, ctx.env, isatty(0)));
}

/** `--clusters a,b` as a list: names trimmed, empty ones and repeats dropped. */
function clusterNames(text: string): string[] {
  const names = [...new Set(text.split(',').map((n) => n.trim()).filter(Boolean))];
  if (names.length === 0) throw new CliError('--clusters names no cluster', 'e.g. --clusters prod-a,prod-b', 2);
  return names;
}

/**
 * ztsh kube mfa: one second-factor check for a set of clusters (default:
 * every cluster you reach that requires session MFA); kubectl then uses the
 * certificate for each of them until the interval ends.
 */
export async function kubeMfa(ctx: CliContext, options: { proxy?: string; clusters?: string; method?: string; browser?: boolean; timeout?: string }): Promise<void> {
  const proxy = resolveProxy(ctx, options.proxy);
  const asked = parseSessionMfaMethod(options.method);
  const timeoutMs = parseTimeout(options.timeout ?? '5m');
  const login = validLogin(ctx.home, proxy, Date.now());
  const named = options.clusters === undefined ? undefined : clusterNames(options.clusters);
  const api = userApi(ctx.home, proxy, login);
  try {
    const marks = await clusterMarks(api);
    for (const name of named ?? []) {
      if (!marks.some((c) => c.name === name)) throw new CliError(`cluster "${name}" not found, or your roles do not reach it`, 'ztsh kube ls lists the clusters you can reach');
    }
    const clusters = named ?? marks.filter((c) => c.sessionMfa).map((c) => c.name);
    if (clusters.length === 0) {
      ctx.stdout('None of the clusters you reach requires session MFA: nothing to do.\n');
      return;
    }
    // A security key needs no terminal (the browser does the asking); a code does.
    const terminal = openTerminal();
    let cache;
    try {
      const method = await chooseSessionMfaMethod(api, { asked, terminal: terminal !== undefined });
      let check: SessionMfaCheck;
      if (method === 'webauthn') {
        check = { method, say: ctx.stderr, open: options.browser !== false && !noBrowser(ctx.env), env: ctx.env, timeoutMs, again: 'run ztsh kube mfa again' };
      } else if (terminal) {
        check = { method, terminal };
      } else {
        throw new CliError('ztsh kube mfa asks for a code from your authenticator app and needs a terminal', 'run it in a terminal; kubectl on this machine then uses its certificate until the interval ends');
      }
      cache = await verifySessionMfa({ home: ctx.home, proxy, login, api, clusters, check });
    } finally {
      terminal?.close();
    }
    ctx.stdout(describeSessionMfa(cache));
    for (const cluster of cache.clusters) {
      if (!usesSessionMfa(kubeconfigPath(ctx.env, homedir()), contextName(proxy, cluster))) {
        ctx.stdout(`kubectl's context for ${safeText(cluster)} does not use it yet: run ztsh kube login ${safeText(cluster)}\n`);
      }
    }
  } finally {
    await api.close();
  }
}

/** Whether the kubeconfig's user entry `name` runs the plugin with --session-mfa (a missing or unreadable kubeconfig: no). */
function usesSessionMfa(path: string, name: string): boolean {
  try {
    const config = parse(readFileSync(path, 'utf8')) as { users?: { name?: unknown; user?: { exec?: { args?: unknown } } }[] } | null;
    const args = config?.users?.find((u) => u?.name === name)?.user?.exec?.args;
    return Array.isArray(args) && args.includes('--session-mfa');
  } catch {
    return false;
  }
}
