// Reads the few protobuf request bodies kubectl 1.33 sends. From 1.33 on, kubectl's typed
// commands (`create namespace|configmap|secret|service`, and others) POST
// application/vnd.kubernetes.protobuf: the magic "k8s\0", then a runtime.Unknown envelope
// {typeMeta{apiVersion, kind}, raw} whose `raw` is the object in the field numbers of
// k8s.io/api's generated.proto. Only the fields those commands fill are mapped here; other
// kinds (e.g. Deployment from `create deployment`) are refused with 415 — use apply instead.
import { StatusError, unsupportedMediaType } from './status.ts';
import type { KubeObject } from './store.ts';

type Kind = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'intOrString' | 'message' | 'stringMap' | 'bytesMap';
interface Field {
  name: string;
  kind: Kind;
  repeated?: boolean;
  schema?: Schema;
}
type Schema = Record<number, Field>;

const OBJECT_META: Schema = {
  1: { name: 'name', kind: 'string' },
  2: { name: 'generateName', kind: 'string' },
  3: { name: 'namespace', kind: 'string' },
  5: { name: 'uid', kind: 'string' },
  6: { name: 'resourceVersion', kind: 'string' },
  7: { name: 'generation', kind: 'int' },
  8: { name: 'creationTimestamp', kind: 'time' },
  11: { name: 'labels', kind: 'stringMap' },
  12: { name: 'annotations', kind: 'stringMap' },
  14: { name: 'finalizers', kind: 'string', repeated: true },
};
const meta: Field = { name: 'metadata', kind: 'message', schema: OBJECT_META };

const SCHEMAS: Record<string, Schema> = {
  'v1/Namespace': {
    1: meta,
    2: { name: 'spec', kind: 'message', schema: { 1: { name: 'finalizers', kind: 'string', repeated: true } } },
  },
  'v1/ConfigMap': {
    1: meta,
    2: { name: 'data', kind: 'stringMap' },
    3: { name: 'binaryData', kind: 'bytesMap' },
    4: { name: 'immutable', kind: 'bool' },
  },
  'v1/Secret': {
    1: meta,
    2: { name: 'data', kind: 'bytesMap' },
    3: { name: 'type', kind: 'string' },
    4: { name: 'stringData', kind: 'stringMap' },
    5: { name: 'immutable', kind: 'bool' },
  },
  'v1/Service': {
    1: meta,
    2: {
      name: 'spec',
      kind: 'message',
      schema: {
        1: {
          name: 'ports',
          kind: 'message',
          repeated: true,
          schema: {
            1: { name: 'name', kind: 'string' },
            2: { name: 'protocol', kind: 'string' },
            3: { name: 'port', kind: 'int' },
            4: { name: 'targetPort', kind: 'intOrString' },
            5: { name: 'nodePort', kind: 'int' },
          },
        },
        2: { name: 'selector', kind: 'stringMap' },
        3: { name: 'clusterIP', kind: 'string' },
        4: { name: 'type', kind: 'string' },
      },
    },
  },
};

const MAGIC = Buffer.from('k8s\0', 'latin1');
const ENVELOPE: Schema = {
  1: { name: 'typeMeta', kind: 'message', schema: { 1: { name: 'apiVersion', kind: 'string' }, 2: { name: 'kind', kind: 'string' } } },
  2: { name: 'raw', kind: 'bytes' },
};

export function decodeKubeProtobuf(body: Buffer): KubeObject {
  const refuse = (what: string) => new StatusError(unsupportedMediaType(`application/vnd.kubernetes.protobuf (${what})`));
  if (!body.subarray(0, 4).equals(MAGIC)) throw refuse('no k8s magic');
  const envelope = decode(body.subarray(4), ENVELOPE, true);
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const schema = SCHEMAS[`${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`];
  if (!schema || !Buffer.isBuffer(envelope.raw)) throw refuse(`${typeMeta.apiVersion ?? '?'} ${typeMeta.kind ?? '?'}`);
  const obj = decode(envelope.raw, schema);
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...obj, metadata: (obj.metadata ?? {}) as KubeObject['metadata'] };
}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  done(): boolean {
    return this.at >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.at++];
      if (b === undefined) throw new Error('truncated varint');
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }
  bytes(): Buffer {
    const len = this.varint();
    const out = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.at += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.at += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function decode(buf: Buffer, schema: Schema, keepRaw = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (!r.done()) {
    const key = r.varint();
    const field = schema[Math.floor(key / 8)];
    const wire = key & 7;
    if (!field) {
      r.skip(wire);
      continue;
    }
    const value = wire === 0 ? r.varint() : wire === 2 ? r.bytes() : (r.skip(wire), undefined);
    if (value === undefined) continue;
    const v = convert(field, value, keepRaw);
    if (field.kind === 'stringMap' || field.kind === 'bytesMap') {
      const [k, val] = v as [string, string];
      out[field.name] = { ...((out[field.name] as object | undefined) ?? {}), [k]: val };
    } else if (v === '' || v === 0 || v === false) {
      // gogo-protobuf writes zero values that JSON (omitempty) leaves out: leave them out too.
    } else if (field.repeated) {
      out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), v];
    } else {
      out[field.name] = v;
    }
  }
  return out;
}

function convert(field: Field, value: number | Buffer, keepRaw: boolean): unknown {
  const buf = typeof value === 'number' ? Buffer.alloc(0) : value;
  switch (field.kind) {
    case 'int':
      return value;
    case 'bool':
      return value === 1;
    case 'string':
      return buf.toString('utf8');
    case 'bytes':
      return keepRaw ? buf : buf.toString('base64');
    case 'message':
      return decode(buf, field.schema ?? {});
    case 'time': {
      const t = decode(buf, { 1: { name: 's', kind: 'int' } });
      return new Date(Number(t.s ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    }
    case 'intOrString': {
      const x = decode(buf, { 1: { name: 't', kind: 'int' }, 2: { name: 'i', kind: 'int' }, 3: { name: 's', kind: 'string' } });
      return x.t === 1 ? (x.s ?? '') : (x.i ?? 0);
    }
    case 'stringMap':
    case 'bytesMap': {
      const entry = decode(buf, { 1: { name: 'k', kind: 'string' }, 2: { name: 'v', kind: field.kind === 'stringMap' ? 'string' : 'bytes' } });
      return [entry.k ?? '', entry.v ?? ''];
    }
  }
}
