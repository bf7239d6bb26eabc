// Reads roles from YAML text: one or more documents, each a role, or a list.
// Errors name the document and the path inside it.
import { parseAllDocuments } from 'yaml';
import { type Role, RoleSchema, ZtshError } from '@ztsh/protocol';
import { parseConfig } from '../config-errors.ts';

export function parseRoles(text: string, source: string): Role[] {
  const roles: Role[] = [];
  const docs = parseAllDocuments(text);
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      throw new ZtshError('invalid_config', `${source}: YAML error in document ${index + 1}: ${first.message}`);
    }
    const value: unknown = doc.toJS();
    if (value == null) return;
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => {
      const where = Array.isArray(value) ? `document ${index + 1} item ${i + 1}` : `document ${index + 1}`;
      roles.push(parseConfig(RoleSchema, item, `${source} (${where})`));
    });
  });
  return checkUniqueRoles(roles, source);
}

export function checkUniqueRoles(roles: Role[], source: string): Role[] {
  const seen = new Set<string>();
  for (const role of roles) {
    if (seen.has(role.metadata.name)) {
      throw new ZtshError('invalid_config', `${source}: role "${role.metadata.name}" is defined twice`);
    }
    seen.add(role.metadata.name);
  }
  return roles;
}
