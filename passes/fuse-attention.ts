/**
 * fuse-attention: not written yet (placeholder registered so the pipeline names it; changes nothing).
 */
import type { Pass } from "./pass.ts";

export const pass: Pass = {
  name: "fuse-attention",
  run(): boolean {
    return false;
  },
};
