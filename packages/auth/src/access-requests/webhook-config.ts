// The `auth.access_requests` section of ztsh.yaml: where access-request
// notifications go. The shared secret is never written in the config itself:
// it comes from a file or an environment variable, so the config can be
// read, shared and committed without it.
import { z } from 'zod';

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

const WebhookUrl = z
  .url()
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.test(url.hostname));
  }, 'must be an https:// URL (plain http:// only to a receiver on this machine: localhost, 127.0.0.1, [::1])')
  .refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '';
  }, 'must not carry a user name or password: the receiver checks the X-Ztsh-Signature header instead');

export const WebhookConfigSchema = z
  .strictObject({
    /** Where each event is POSTed. */
    url: WebhookUrl,
    /** File holding the shared secret (relative to the config file). */
    secret_file: z.string().min(1).optional(),
    /** Environment variable holding the shared secret. */
    secret_env: z.string().min(1).optional(),
    /** PEM bundle trusted for the receiver's TLS in addition to the system's roots (an internal CA); relative to the config file. */
    ca_file: z.string().min(1).optional(),
  })
  .refine((w) => (w.secret_file === undefined) !== (w.secret_env === undefined), {
    message: 'give the shared secret as secret_file or secret_env (one of them; never inline)',
  });
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

export const AccessRequestsConfigSchema = z.strictObject({
  /** Notifications on create, approve and deny; none when absent. */
  webhook: WebhookConfigSchema.optional(),
});
export type AccessRequestsConfig = z.infer<typeof AccessRequestsConfigSchema>;
