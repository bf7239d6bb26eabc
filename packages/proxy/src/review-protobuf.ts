// kubectl 1.33 POSTs its `auth can-i` reviews as protobuf
// (application/vnd.kubernetes.protobuf): the magic "k8s\0", then a
// runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw}, `raw` being the
// review in the field numbers of k8s.io/api/authorization/v1's
// generated.proto. This reads those two messages into the JSON shape the
// review answer takes, and nothing else; anything malformed is undefined.

const MAGIC = Buffer.from('k8s\0', 'latin1');

type Fields = Map<number, (Buffer | number)[]>;

/** Protobuf wire format: varints and length-delimited fields; other wire types end the read. */
function readFields(buf: Buffer): Fields | undefined {
  const out: Fields = new Map();
  let at = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= buf.length) return undefined;
      const b = buf[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (at < buf.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let value: Buffer | number | undefined;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = varint();
      if (length === undefined || at + length > buf.length) return undefined;
      value = buf.subarray(at, at + length);
      at += length;
    } else return undefined;
    if (value === undefined) return undefined;
    const seen = out.get(field);
    if (seen) seen.push(value);
    else out.set(field, [value]);
  }
  return out;
}

function str(fields: Fields | undefined, n: number): string | undefined {
  const v = fields?.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function sub(fields: Fields | undefined, n: number): Fields | undefined {
  const v = fields?.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? readFields(v) : undefined;
}

function defined(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The review as JSON, or undefined when the bytes are not a protobuf review. */
export function reviewFromProtobuf(bytes: Buffer): unknown {
  if (!bytes.subarray(0, 4).equals(MAGIC)) return undefined;
  const unknown = readFields(bytes.subarray(4));
  const typeMeta = sub(unknown, 1);
  const apiVersion = str(typeMeta, 1);
  const kind = str(typeMeta, 2);
  const raw = unknown?.get(2)?.at(-1);
  if (!Buffer.isBuffer(raw)) return undefined;
  const review = readFields(raw);
  if (!review) return undefined;
  const spec = sub(review, 2);
  if (kind === 'SelfSubjectRulesReview') return { apiVersion, kind, spec: defined({ namespace: str(spec, 1) }) };
  if (kind !== 'SelfSubjectAccessReview') return { apiVersion, kind };
  const resource = sub(spec, 1);
  const nonResource = sub(spec, 2);
  return {
    apiVersion,
    kind,
    spec: {
      ...(resource
        ? {
            resourceAttributes: defined({
              namespace: str(resource, 1),
              verb: str(resource, 2),
              group: str(resource, 3),
              version: str(resource, 4),
              resource: str(resource, 5),
              subresource: str(resource, 6),
              name: str(resource, 7),
            }),
          }
        : {}),
      ...(nonResource ? { nonResourceAttributes: defined({ path: str(nonResource, 1), verb: str(nonResource, 2) }) } : {}),
    },
  };
}
