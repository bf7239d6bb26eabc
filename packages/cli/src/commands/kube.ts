// ztsh kube ls | login | credentials: reach clusters through the proxy with
// plain kubectl. The kubeconfig entry runs `ztsh kube credentials`, an exec
// credential plugin that hands kubectl the current certificate.
import { X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { loggedIn, resolveProxy, withUserApi, type CliContext } from '../context.ts';
import { kubeconfigPath, writeKubeEntry } from '../kubeconfig.ts';
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
  writeKubeEntry(path, {
    name,
    server: `${proxy.origin}/k8s/${cluster}`,
    caData: trust ? Buffer.from(trust).toString('base64') : undefined,
    exec: {
      command: process.execPath,
      args: [fileURLToPath(new URL('../../bin/ztsh.js', import.meta.url)), 'kube', 'credentials', '--proxy', proxy.origin, '--cluster', cluster],
      env: ctx.env.ZTSH_HOME ? [{ name: 'ZTSH_HOME', value: ctx.env.ZTSH_HOME }] : [],
    },
  });
  ctx.stdout(
    `Context "${safeText(name)}" written to ${safeText(path)} and made current${found.online ? '' : ' (the cluster is offline right now)'}.\n` +
      `Try: kubectl get pods\n`,
  );
}

export function kubeCredentials(ctx: CliContext, options: { proxy?: string; cluster?: string }): void {
  const proxy = resolveProxy(ctx, options.proxy);
  const profile = loggedIn(ctx, proxy);
  const validTo = new Date(new X509Certificate(profile.certPem).validTo);
  ctx.stdout(
    JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: profile.certPem, clientKeyData: profile.keyPem, expirationTimestamp: validTo.toISOString() },
    }) + '\n',
  );
}
