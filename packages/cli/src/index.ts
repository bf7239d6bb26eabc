export { ZtshHome, profileName, type ProfileFiles, type ProfileMeta } from './home.ts';
export { CliError } from './cli-error.ts';
export { newClientSecrets, type ClientSecrets } from './login/keys.ts';
