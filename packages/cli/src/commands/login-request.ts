// ztsh login --request-id ID: no new sign-in. The current certificate asks
// auth (POST /v1/certificates/reissue, mutual TLS) for one that also carries
// the roles of approved requests. The key stays the same, so a kubectl that
// reads the kube file between the two writes still gets a matching pair
// (see keptKey in login.ts); the new certificate ends at the request's end or
// the login's, whichever is first. A plain `ztsh login` drops the elevation.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { Certificates, CertificateReissueRequest, identityFromCertificate } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import { apiFor, loggedIn, resolveProxy, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { safeText } from '../terminal-safe.ts';
import { requestIdOption } from './request.ts';
import { describeValidity } from './status.ts';

export async function loginWithRequests(ctx: CliContext, options: { proxy?: string; requestId: string[] }): Promise<void> {
  const ids = [...new Set(options.requestId.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))].map((id) => requestIdOption(id, '--request-id'));
  const body = CertificateReissueRequest.safeParse({ accessRequests: ids });
  if (!body.success) throw new CliError(`--request-id: ${body.error.issues[0]!.message}`, 'give one to eight request ids, e.g. --request-id 1f0c…', 2);
  const proxy = resolveProxy(ctx, options.proxy);
  const profile = loggedIn(ctx, proxy);
  const api = apiFor(ctx, proxy, undefined, { cert: profile.certPem, key: profile.keyPem });
  let certs;
  try {
    certs = await api.call('POST', '/v1/certificates/reissue', Certificates, body.data);
  } finally {
    await api.close();
  }
  // What was asked is what must come back: the same key, and every request.
  const issued = new X509Certificate(certs.certificate);
  if (!issued.checkPrivateKey(createPrivateKey(profile.keyPem))) {
    throw new CliError('the proxy issued a certificate for another key', 'this ztsh keeps its key; report this to your operators');
  }
  const identity = identityFromCertificate(new Uint8Array(issued.raw));
  const granted = identity?.accessRequests ?? [];
  const missing = ids.filter((id) => !granted.some((g) => g.id === id));
  if (!identity || missing.length) throw new CliError(`the certificate the proxy issued does not carry request ${safeText(missing.join(', ') || ids.join(', '))}`, 'update ztsh to the version of the proxy');
  ctx.home.writeProfile(proxy, {
    ...profile,
    meta: { ...profile.meta, roles: certs.roles, kubernetesGroups: certs.kubernetesGroups, kubernetesUsers: certs.kubernetesUsers, validUntil: certs.validUntil },
    certPem: certs.certificate,
    userCaPem: certs.userCaCertificates.join(''),
    hostCaPem: certs.hostCaCertificates.join(''),
  });
  const elevated = granted.map((g) => `${g.id} (${[...g.roles, ...(g.resources ?? []).map((r) => `/${r.cluster}/pod/${r.namespace}/${r.name}`)].join(', ')})`);
  ctx.stdout(
    `Certificate re-issued for ${safeText(certs.user)} with access request${granted.length === 1 ? '' : 's'} ${safeText(elevated.join('; '))}.\n` +
      `Valid until ${safeText(localTime(certs.validUntil))} (${describeValidity(new Date(certs.validUntil))}); kubectl uses it from its next command.\n`,
  );
}
