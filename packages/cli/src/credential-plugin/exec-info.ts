// Whether kubectl gave the plugin a terminal to ask on. kubectl (client-go)
// passes its stdin through only when the kubeconfig's interactiveMode allows
// it and stdin is a terminal, and says which it did in KUBERNETES_EXEC_INFO
// ({"spec": {"interactive": true}}). Run by hand, without that variable, the
// plugin's own stdin decides.
export function execInteractive(env: Record<string, string | undefined>, stdinIsTty: boolean): boolean {
  const info = env.KUBERNETES_EXEC_INFO;
  if (info === undefined) return stdinIsTty;
  try {
    return (JSON.parse(info) as { spec?: { interactive?: unknown } } | null)?.spec?.interactive === true;
  } catch {
    return false;
  }
}
