/**
 * What an op's kernel emitter receives and returns.
 *
 * An emitter turns one node (with static shapes) into one or more kernels. A kernel declares its
 * parallel iteration space explicitly: `tasks` independent units of work, and a body that handles
 * the range [task_begin, task_end). The C target hands ranges to thread-pool workers; a GPU target
 * maps one task to one thread. Bodies are C-style source written through the renderer's helpers
 * (`r.storageType`, `r.load`, `r.store`, `r.fn`), so they carry over to the other C-like targets.
 */
import type { DType } from "../ir/dtype.ts";
import type { Node } from "../ir/graph.ts";
import type { AttrReader } from "../ir/op-types.ts";
import type { Tensor } from "../ir/tensor.ts";
import type { CStyleRenderer } from "./cstyle.ts";

/** A node input or output as the emitter sees it: static shape, and the value when constant. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly size: number;
  readonly const: Tensor | undefined;
}

export interface EmitNode {
  readonly node: Node;
  readonly attrs: AttrReader;
  /** undefined where an optional input is omitted. */
  readonly inputs: readonly (TensorInfo | undefined)[];
  readonly outputs: readonly TensorInfo[];
  readonly r: CStyleRenderer;
  /** Throws a CompileError naming the node (for variants the target does not support). */
  fail(msg: string): never;
}

export type ArgRef =
  | { readonly kind: "in"; readonly index: number }
  | { readonly kind: "out"; readonly index: number }
  | { readonly kind: "scratch"; readonly index: number };

export interface KernelArg {
  /** The parameter's name inside the body. */
  readonly name: string;
  readonly ref: ArgRef;
}

export interface KernelSpec {
  /** What this kernel of the node does, for the comment (e.g. "im2col"). */
  readonly label?: string;
  /**
   * Parameters in order. Default: every present input as `x<i>` (i = input index), then every output
   * as `y<i>`.
   */
  readonly args?: readonly KernelArg[];
  /** Number of independent tasks; 1 for a serial kernel. */
  readonly tasks: number;
  /** Statements; may use the parameters, `task_begin` and `task_end` (int64_t). */
  readonly body: string;
  /** Names of helper snippets the body calls (see helpers in the kernel tables). */
  readonly helpers?: readonly string[];
  /**
   * A prepare kernel: it reads only its `in` arguments and writes only its scratch arguments, and
   * no other kernel writes those scratch buffers (e.g. packing a weight matrix for the GEMM kernel
   * after it). When every `in` argument is a constant, lowering runs it once per loaded model
   * instead of on every run, and its scratch buffers become prepared tensors (kept for the model's
   * life); otherwise it stays an ordinary step.
   */
  readonly prepare?: boolean;
}

export interface ScratchSpec {
  readonly dtype: DType;
  readonly count: number;
}

/** An emitter's result: kernels run in order (with optional scratch buffers), or a view. */
export type Lowered =
  | { readonly kernels: readonly KernelSpec[]; readonly scratch?: readonly ScratchSpec[] }
  /** Output 0 is input `alias` reinterpreted (same bytes): Reshape, Squeeze, Identity, ... */
  | { readonly alias: number };

export type Emitter = (n: EmitNode) => Lowered;

/** A C helper snippet: code placed once before the kernels, after its dependencies. */
export interface Helper {
  readonly deps?: readonly string[];
  readonly code: string;
}

export class CompileError extends Error {
  override name = "CompileError";
}
