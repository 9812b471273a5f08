/**
 * A small builder for ONNX graphs over the `onnx-proto` message types: nodes with unique
 * output names, float32/int64 initializers, graph inputs/outputs with symbolic or fixed
 * dims, and the model wrapper (IR version, opset, metadata_props). Encoding is protobufjs's.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

import type { OnnxAttribute, OnnxGraph } from '../nn/layer-onnx.js';

const { onnx } = onnxProto;

/** ONNX IR version 8 (ONNX 1.10-1.12) covers opset 17. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

export type AttributeValue = OnnxAttribute;

/** A dim: a fixed size or a symbolic name ('N', 'H', 'W'). */
export type Dim = number | string;

export interface GraphOutput {
  name: string;
  elemType: 'float32' | 'int64';
  dims: Dim[];
}

const ELEM_TYPE = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 } as const;

function attribute(name: string, value: AttributeValue): OnnxTypes.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`onnx attribute ${name}: ${value} is not an integer; pass { float: x }`);
    return { name, type: A.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('floats' in value) return { name, type: A.FLOATS, floats: value.floats };
  return { name, type: A.FLOAT, f: value.float };
}

function valueInfo(name: string, elemType: 'float32' | 'int64', dims: Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[elemType],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class OnnxGraphBuilder implements OnnxGraph {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly initializerNames = new Set<string>();
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly counts = new Map<string, number>();

  /** A fresh value name like `conv_12`. */
  private fresh(op: string): string {
    const n = (this.counts.get(op) ?? 0) + 1;
    this.counts.set(op, n);
    return `${op.toLowerCase()}_${n}`;
  }

  addInput(name: string, elemType: 'float32' | 'int64', dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  addOutput(output: GraphOutput): void {
    this.outputs.push(valueInfo(output.name, output.elemType, output.dims));
  }

  /**
   * Append a node; returns its single output name (`output` if given). Optional inputs that
   * are left out in the middle are passed as ''.
   */
  node(op: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, output?: string): string {
    const out = output ?? this.fresh(op);
    this.nodes.push({
      opType: op,
      name: `${op}_${this.nodes.length}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** A float32 initializer (little-endian raw data); the name must be unique. */
  addFloatInitializer(name: string, dims: number[], data: Float32Array): string {
    this.checkNew(name);
    const bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
    this.initializers.push({ name, dims, dataType: ELEM_TYPE.float32, rawData: bytes });
    return name;
  }

  /** An int64 initializer holding small integers (shapes, pads, axes). */
  addInt64Initializer(name: string, values: number[]): string {
    this.checkNew(name);
    this.initializers.push({ name, dims: [values.length], dataType: ELEM_TYPE.int64, int64Data: values });
    return name;
  }

  /** An int64 constant with a generated name. */
  int64Constant(values: number[]): string {
    return this.addInt64Initializer(this.fresh('const'), values);
  }

  /** A scalar float32 constant with a generated name. */
  floatScalar(value: number): string {
    const name = this.fresh('const');
    this.checkNew(name);
    this.initializers.push({ name, dims: [], dataType: ELEM_TYPE.float32, floatData: [value] });
    return name;
  }

  private checkNew(name: string): void {
    if (this.initializerNames.has(name)) throw new Error(`onnx graph: initializer ${name} is defined twice`);
    this.initializerNames.add(name);
  }

  /** The serialised ModelProto. */
  encode(options: { graphName: string; producerVersion: string; docString?: string; metadata: Record<string, string> }): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'seg',
      producerVersion: options.producerVersion,
      docString: options.docString ?? '',
      graph: {
        name: options.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Decode a serialised model (for inspection and tests). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
