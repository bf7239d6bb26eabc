// What `ztsh kube login` says about a cluster the user's roles do not reach
// but a role they may request would: GET /v1/clusters lists those as
// `requestable` ({ name, labels, roles }), and the refusal then ends with the
// exact `ztsh request create` command to run, instead of a dead end.
import { z } from 'zod';
import type { CliContext } from '../context.ts';
import { withUserApi } from '../context.ts';

const RequestableList = z.object({
  requestable: z.array(z.object({ name: z.string(), labels: z.record(z.string(), z.string()), roles: z.array(z.string()) })).optional(),
});

/** Role names as the role schema allows them: nothing a shell would read differently when the line is pasted. */
const ROLE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The command that asks for these roles. `--reason "..."` is left for the user to fill in. */
export function requestCommand(roles: string[]): string {
  return `ztsh request create --roles ${roles.join(',')} --reason "..."`;
}

/** The command line for `cluster`, or undefined when no role the user may request reaches it (or the proxy does not say). */
export async function requestableHint(ctx: CliContext, proxy: URL, cluster: string): Promise<string | undefined> {
  let list: z.infer<typeof RequestableList>;
  try {
    list = await withUserApi(ctx, proxy.origin, (api) => api.call('GET', '/v1/clusters', RequestableList));
  } catch {
    // The refusal stands on its own; the hint is a courtesy.
    return undefined;
  }
  const roles = list.requestable?.find((c) => c.name === cluster)?.roles.filter((r) => ROLE_NAME.test(r)) ?? [];
  return roles.length ? requestCommand(roles.slice(0, 1)) : undefined;
}
