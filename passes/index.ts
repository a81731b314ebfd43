/** Every pass by its command-line name. */
import type { Pass } from "./pass.ts";
import { pass as inferShapes } from "./infer-shapes.ts";
import { pass as foldConstants } from "./fold-constants.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import { pass as eliminateCommon } from "./eliminate-common.ts";
import { pass as simplify } from "./simplify.ts";
import { pass as foldBatchnorm } from "./fold-batchnorm.ts";
import { pass as fuseEpilogue } from "./fuse-epilogue.ts";
import { pass as lowerControlFlow } from "./lower-control-flow.ts";
import { pass as fuseNorm } from "./fuse-norm.ts";
import { pass as fuseAttention } from "./fuse-attention.ts";
import { pass as fuseElementwise } from "./fuse-elementwise.ts";
import { pass as layout } from "./layout.ts";

export const PASSES: Readonly<Record<string, Pass>> = Object.fromEntries(
  [inferShapes, foldConstants, eliminateDead, eliminateCommon, simplify, foldBatchnorm, fuseEpilogue, lowerControlFlow,
    fuseNorm, fuseAttention, fuseElementwise, layout].map((p) => [p.name, p]),
);
