// Which command lines the fast path answers: `kube credentials` with --proxy
// and --cluster, each at most once, as `--name value` or `--name=value`, and
// the flag --session-mfa at most once, in any order: the forms `ztsh kube
// login` writes and their plain variants.
// Anything else (help, an unknown flag, a repeated one, an empty or
// dash-leading value) returns undefined, and the full command line answers
// it, so both always give the same answer.

export interface CredentialArgs {
  proxy?: string;
  cluster?: string;
  /** The cluster needs a session MFA certificate (the kubeconfig of a cluster GET /v1/clusters marks sessionMfa). */
  sessionMfa?: true;
}

export function credentialArgs(argv: readonly string[]): CredentialArgs | undefined {
  if (argv[0] !== 'kube' || argv[1] !== 'credentials') return undefined;
  const found: CredentialArgs = {};
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--session-mfa') {
      if (found.sessionMfa) return undefined;
      found.sessionMfa = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = flag === '--proxy' ? 'proxy' : flag === '--cluster' ? 'cluster' : undefined;
    if (!key || found[key] !== undefined) return undefined;
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    found[key] = value;
  }
  return found;
}
