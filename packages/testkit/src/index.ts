// @ztsh/testkit: helpers for tests and the dev stack only — a dev OIDC IdP, throw-away TLS
// material, and a form-driving HTTP client for login flows.
export { startDevIdp, type DevIdp, type DevIdpClient, type DevIdpOptions, type DevIdpUser } from './dev-idp.ts';
export { createTestTls, type TestTls } from './test-tls.ts';
export {
  FormClient,
  decodeEntities,
  parseAttributes,
  parseForms,
  type FormClientOptions,
  type Page,
  type ParsedForm,
  type SubmitOptions,
} from './form-client.ts';
export * from './kube/index.ts';
