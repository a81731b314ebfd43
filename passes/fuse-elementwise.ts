/**
 * fuse-elementwise: not written yet (placeholder registered so the pipeline names it; changes nothing).
 */
import type { Pass } from "./pass.ts";

export const pass: Pass = {
  name: "fuse-elementwise",
  run(): boolean {
    return false;
  },
};
