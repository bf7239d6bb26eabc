import { describe, expect, it } from 'vitest';
import { answerWhoAmI } from './whoami.ts';

const info = { isResourceRequest: true, verb: 'create', apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'selfsubjectreviews', subresource: '', namespace: '', name: '', path: '' };

describe('answerWhoAmI', () => {
  it('answers with the impersonated user and groups', () => {
    expect(answerWhoAmI(info, 'dev-bot', ['developers'], 'alice')).toMatchObject({ status: 201, body: { status: { userInfo: { username: 'dev-bot', groups: ['developers'] } } } });
  });
  it('refuses other verbs, names and unknown versions', () => {
    expect(answerWhoAmI({ ...info, verb: 'list' }, 'a', [], 'a').status).toBe(405);
    expect(answerWhoAmI({ ...info, name: 'x' }, 'a', [], 'a').status).toBe(404);
    expect(answerWhoAmI({ ...info, apiVersion: 'v9' }, 'a', [], 'a').status).toBe(404);
  });
});
