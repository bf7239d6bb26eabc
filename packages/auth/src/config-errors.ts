// Config errors are shared with the agent, which must not load auth: they live in protocol.
export { describeIssue, formatIssuePath, parseConfig } from '@ztsh/protocol';
