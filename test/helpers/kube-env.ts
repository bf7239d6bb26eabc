// The whole path kubectl takes, for tests: dev stack (auth + proxy), the
// kube-apiserver test double, an agent joined with a token, alice logged in,
// and `ztsh kube login` having written her kubeconfig.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startAgent, type AgentOptions, type RunningAgent } from '@ztsh/agent';
import { DEV_USERS, type DevStackOptions } from '@ztsh/server';
import { createTestTls, startKubeDouble, type KubeDouble } from '@ztsh/testkit';
import { cli, newZtshHome } from './cli.ts';
import { httpLogin } from './http-login.ts';
import { storeLogin } from './profile.ts';
import { startTestStack, type TestStack } from './stack.ts';
import { ZTSHD } from './source-bins.ts';


export interface KubeEnv {
  stack: TestStack;
  kube: KubeDouble;
  kubeCa: string;
  agents: RunningAgent[];
  home: string;
  kubeconfig: string;
  env: NodeJS.ProcessEnv;
  /** alice's certificate and key, from the login above (for raw requests). */
  alice: { cert: string; key: string };
  addAgent(cluster: string, labels: Record<string, string>): Promise<RunningAgent>;
  close(): Promise<void>;
}

export const SA_TOKEN = 'agent-service-account-token';

/** `stack`: more dev-stack options (a metrics listener); `agent`: more options for every agent (its metrics). */
export async function startKubeEnv(options: { split?: boolean; roles?: DevStackOptions['roles']; stack?: Partial<DevStackOptions>; agent?: Partial<AgentOptions> } = {}): Promise<KubeEnv> {
  const stack = await startTestStack({ ...(options.split ? { split: true } : {}), ...(options.roles ? { roles: options.roles } : {}), ...options.stack });
  // Join tokens live with the auth service: in its own data dir when it runs apart.
  const authDataDir = options.split ? join(stack.dataDir, 'auth') : stack.dataDir;
  const tls = await createTestTls();
  const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: SA_TOKEN });
  const agents: RunningAgent[] = [];
  const addAgent = async (cluster: string, labels: Record<string, string>) => {
    const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--data-dir', authDataDir, '--format', 'json'], { encoding: 'utf8' });
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    const agent = await startAgent({
      proxy: stack.url,
      cluster,
      labels,
      stateDir: mkdtempSync(join(tmpdir(), 'ztsh-agent-')),
      token: () => token,
      proxyCa: stack.tlsCa,
      kube: { server: kube.url, token: () => SA_TOKEN, ca: tls.caCert },
      log: pino({ level: process.env.ZTSH_TEST_LOG ?? 'silent' }),
      backoff: { baseMs: 20, maxMs: 200 },
      ...tunnelTransportForTests(),
      ...options.agent,
    });
    await agent.connected();
    agents.push(agent);
    return agent;
  };
  await addAgent('sandbox', { env: 'sandbox' });

  // alice logs in (over HTTP here; the browser login has tests of its own).
  // Her TOTP code is for the stack's time: on a ManualClock a wall-clock code
  // could be a later step, which then counts as used for the test's own logins.
  const login = await httpLogin(stack.url, stack.tlsCa, DEV_USERS[0]!, options.stack?.clock?.now().getTime());
  const home = newZtshHome();
  storeLogin(home, stack.url, stack.tlsCa, login);
  const kubeconfig = join(home, 'kubeconfig');
  const env = { PATH: process.env.PATH, HOME: home, ZTSH_HOME: home, KUBECONFIG: kubeconfig, KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' };
  const loggedIn = await cli(['kube', 'login', 'sandbox'], env as Record<string, string>);
  if (loggedIn.code !== 0) throw new Error(`ztsh kube login failed: ${loggedIn.stderr}`);
  return {
    stack,
    kube,
    kubeCa: tls.caCert,
    agents,
    home,
    kubeconfig,
    env,
    alice: { cert: login.json.certificate as string, key: login.keys.privateKey },
    addAgent,
    close: async () => {
      for (const a of agents) await a.stop();
      await kube.close();
      await stack.close();
    },
  };
}

/** ZTSH_TEST_TUNNEL=direct|websocket runs the tunnel tests over one transport; unset, agents use their default (websocket). */
export function tunnelTransportForTests(): Pick<AgentOptions, 'transport'> {
  const chosen = process.env.ZTSH_TEST_TUNNEL;
  if (chosen === undefined || chosen === '') return {};
  if (chosen !== 'direct' && chosen !== 'websocket' && chosen !== 'auto') throw new Error(`ZTSH_TEST_TUNNEL must be direct, websocket or auto, not ${chosen}`);
  return { transport: chosen };
}
