/** Building f32 test graphs in code: seeded random tensors, graph inputs (with their values) and constants. */
import { Graph, Value, tensorType } from "../../ir/graph.ts";
import { Tensor } from "../../ir/tensor.ts";
import { random } from "./golden.ts";

export interface GraphBuilder {
  readonly g: Graph;
  /** The values of the graph inputs, in order. */
  readonly inputs: Tensor[];
  /** A tensor of uniform values in [-s, s). */
  rand(shape: number[], s: number): Tensor;
  /** Adds a graph input holding `t`. */
  input(name: string, t: Tensor): Value;
  /** Adds a constant holding `t`. */
  konst(name: string, t: Tensor): Value;
}

export function graphBuilder(name: string, seed: number): GraphBuilder {
  const r = random(seed);
  const g = new Graph(name);
  const inputs: Tensor[] = [];
  return {
    g,
    inputs,
    rand(shape, s) {
      const t = Tensor.zeros("f32", shape);
      for (let i = 0; i < t.size; i++) t.data[i] = (r() * 2 - 1) * s;
      return t;
    },
    input(vname, t) {
      const v = new Value(vname, tensorType("f32", t.shape));
      g.inputs.push(v);
      inputs.push(t);
      return v;
    },
    konst(vname, t) {
      const v = new Value(vname, tensorType("f32", t.shape), t);
      g.constants.push(v);
      return v;
    },
  };
}
