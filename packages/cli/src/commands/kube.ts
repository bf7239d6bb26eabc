// ztsh kube ls | login | credentials: reach clusters through the proxy with
// plain kubectl. The kubeconfig entry names the file `ztsh login` keeps the
// current certificate and key in (home.ts), so kubectl starts no other
// process; with --exec-plugin it runs `ztsh kube credentials` instead, an
// exec credential plugin: a Node start before every kubectl command.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { resolveProxy, withUserApi, type CliContext } from '../context.ts';
import { execCredential } from '../credential-plugin/exec-credential.ts';
import { readKeyPair } from '../credential-plugin/read-key-pair.ts';
import { kubeconfigPath, writeKubeEntry } from '../kubeconfig.ts';
import { requestableHint } from './requestable.ts';
import { selfCommand } from '../self-command.ts';
import { formatTable } from '../table.ts';
import { safeJson, safeText } from '../terminal-safe.ts';

const ClusterList = z.object({
  clusters: z.array(z.object({ name: z.string(), labels: z.record(z.string(), z.string()), online: z.boolean(), since: z.string() })),
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
  ctx.stdout(formatTable(['CLUSTER', 'STATUS', 'LABELS'], list.map((c) => [c.name, c.online ? 'online' : 'offline', labels(c.labels)])));
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
    user: options.execPlugin ? execUser(ctx, proxy, cluster) : { file: credentialFile(ctx, proxy) },
  });
  ctx.stdout(
    `Context "${safeText(name)}" written to ${safeText(path)} and made current${found.online ? '' : ' (the cluster is offline right now)'}.\n` +
      `Try: kubectl get pods\n`,
  );
}

function execUser(ctx: CliContext, proxy: URL, cluster: string) {
  const self = selfCommand();
  return {
    exec: {
      command: self.command,
      args: [...self.args, 'kube', 'credentials', '--proxy', proxy.origin, '--cluster', cluster],
      env: ctx.env.ZTSH_HOME ? [{ name: 'ZTSH_HOME', value: ctx.env.ZTSH_HOME }] : [],
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

export function kubeCredentials(ctx: CliContext, options: { proxy?: string; cluster?: string }): void {
  // The same answer as the fast path (credential-plugin/), which kubectl normally reaches.
  ctx.stdout(execCredential(ctx.home, resolveProxy(ctx, options.proxy), Date.now()));
}
