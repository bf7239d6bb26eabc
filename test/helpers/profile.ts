// Stores an HTTP-driven login the way `ztsh login` stores it, so a test can
// go on with the real CLI (kube ls, kube login, identity export).
import { ZtshHome } from '@ztsh/cli';
import type { httpLogin } from './http-login.ts';

export function storeLogin(home: string, proxy: URL, tlsCa: string, login: Awaited<ReturnType<typeof httpLogin>>): void {
  const h = new ZtshHome(home);
  h.writeProfile(proxy, {
    meta: {
      proxy: proxy.origin,
      user: login.json.user,
      roles: login.json.roles,
      kubernetesGroups: login.json.kubernetesGroups,
      kubernetesUsers: login.json.kubernetesUsers,
      mfaVerified: login.json.mfaVerified,
      validUntil: login.json.validUntil,
      loggedInAt: new Date().toISOString(),
    },
    keyPem: login.keys.privateKey,
    certPem: login.json.certificate,
    userCaPem: login.json.userCaCertificates.join(''),
    hostCaPem: login.json.hostCaCertificates.join(''),
  });
  h.setCurrent(proxy);
  h.writeTrust(proxy, tlsCa);
}

/** A fresh ztsh home with `user` logged in to the stack over HTTP: the environment to run the CLI as them. */
export async function loggedInEnv(stack: { url: URL; tlsCa: string }, user: Parameters<typeof import('./http-login.ts').httpLogin>[2]): Promise<Record<string, string>> {
  const { httpLogin } = await import('./http-login.ts');
  const { newZtshHome } = await import('./cli.ts');
  const home = newZtshHome();
  storeLogin(home, stack.url, stack.tlsCa, await httpLogin(stack.url, stack.tlsCa, user));
  return { PATH: process.env.PATH!, HOME: home, ZTSH_HOME: home };
}
