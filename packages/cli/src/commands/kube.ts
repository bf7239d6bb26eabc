// ztsh kube ls | login | credentials: reach clusters through the proxy with
// plain kubectl. The kubeconfig entry runs `ztsh kube credentials`, an exec
// credential plugin that hands kubectl the current certificate.
import { homedir } from 'node:os';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { resolveProxy, withUserApi, type CliContext } from '../context.ts';
import { execCredential } from '../credential-plugin/exec-credential.ts';
import { kubeconfigPath, writeKubeEntry } from '../kubeconfig.ts';
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

export async function kubeLogin(ctx: CliContext, cluster: string, options: { proxy?: string }): Promise<void> {
  const proxy = resolveProxy(ctx, options.proxy);
  const found = (await clusters(ctx, proxy)).find((c) => c.name === cluster);
  if (!found) throw new CliError(`cluster "${cluster}" not found, or your roles do not reach it`, 'ztsh kube ls lists the clusters you can reach');
  const trust = ctx.home.readTrust(proxy);
  const name = contextName(proxy, cluster);
  const path = kubeconfigPath(ctx.env, homedir());
  const self = selfCommand();
  writeKubeEntry(path, {
    name,
    server: `${proxy.origin}/k8s/${cluster}`,
    caData: trust ? Buffer.from(trust).toString('base64') : undefined,
    exec: {
      command: self.command,
      args: [...self.args, 'kube', 'credentials', '--proxy', proxy.origin, '--cluster', cluster],
      env: ctx.env.ZTSH_HOME ? [{ name: 'ZTSH_HOME', value: ctx.env.ZTSH_HOME }] : [],
    },
  });
  ctx.stdout(
    `Context "${safeText(name)}" written to ${safeText(path)} and made current${found.online ? '' : ' (the cluster is offline right now)'}.\n` +
      `Try: kubectl get pods\n`,
  );
}

export function kubeCredentials(ctx: CliContext, options: { proxy?: string; cluster?: string }): void {
  // The same answer as the fast path (credential-plugin/), which kubectl normally reaches.
  ctx.stdout(execCredential(ctx.home, resolveProxy(ctx, options.proxy), Date.now()));
}
