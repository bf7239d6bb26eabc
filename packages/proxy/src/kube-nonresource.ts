// The paths outside the API's resources that kubectl needs, and nothing
// else: a request that is not a resource request must be one of these, read
// only. Anything else the apiserver serves (/metrics, /logs, /debug, ...)
// is refused rather than passed through unchecked.
//
//   /version                          kubectl version, the kubectl version dispatcher
//   /api, /api/<v>, /apis, /apis/<g>, /apis/<g>/<v>   discovery
//   /openapi/v2, /openapi/v3[/...]    schemas (kubectl explain, apply, edit)
//   /healthz, /livez, /readyz [/<check>]   health probes
const READ = new Set(['GET', 'HEAD']);

export function nonResourceAllowed(method: string, segments: readonly string[]): boolean {
  if (!READ.has(method)) return false;
  const [first, second] = segments;
  const n = segments.length;
  switch (first) {
    case 'version':
      return n === 1;
    case 'api':
      return n <= 2;
    case 'apis':
      return n <= 3;
    case 'openapi':
      return (second === 'v2' && n === 2) || second === 'v3';
    case 'healthz':
    case 'livez':
    case 'readyz':
      return n <= 2;
    default:
      return false;
  }
}
