/** The agent's version, as in packages/agent/package.json (a unit test keeps them equal). */
export const AGENT_VERSION = '0.1.0';
