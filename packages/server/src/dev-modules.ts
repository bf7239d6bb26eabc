// What `ztshd dev` loads, and only when it runs: the dev stack starts the dev
// IdP (oidc-provider) and the kube-apiserver double from @ztsh/testkit, a
// development dependency. A production install (the image, `pnpm install
// --prod`) has no testkit, and says so in one line instead of a stack trace.
import { ZtshError } from '@ztsh/protocol';

export async function loadDevModules() {
  try {
    const [stack, banner, replicas] = await Promise.all([import('./dev-stack.ts'), import('./dev-banner.ts'), import('./dev-replicas.ts')]);
    return { ...stack, ...banner, ...replicas };
  } catch (error) {
    if ((error as { code?: unknown })?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new ZtshError('unavailable', 'the dev stack needs a development checkout: run pnpm install in the repository (this install has no @ztsh/testkit)', { cause: error });
  }
}
