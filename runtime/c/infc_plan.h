/* infc_plan.h — the plan + weights file format (model.infc), version 2.
 *
 * This header is the ONE definition of the format. The TypeScript writer (codegen/plan-format.ts)
 * mirrors every constant below by name, and test/plan-format.test.ts checks that the two agree.
 * Change the format here first; never renumber a code that has shipped, bump the version instead.
 *
 * All integers are fixed-width little-endian. Offsets named "absolute" count from the first byte of
 * the file. The file is three contiguous sections, every byte covered by a checksum:
 *
 *   [0, header_size)                  header        (INFC_PLAN_HEADER_SIZE bytes)
 *   [plan_offset, +plan_size)         plan          tensor table, step table, arg list, io list,
 *                                                   string table, then zero padding
 *   [weights_offset, +weights_size)   weights       constant tensor bytes; starts 64-byte aligned
 *                                                   (so a mmapped file can be used in place)
 *
 * with plan_offset == header_size, weights_offset == plan_offset + plan_size, and
 * file_size == weights_offset + weights_size.
 *
 * 1. Header (176 bytes)
 *      off size  field
 *        0    4  magic            "INFC"
 *        4    4  version          INFC_PLAN_VERSION
 *        8    4  header_size      INFC_PLAN_HEADER_SIZE
 *       12    4  target           INFC_TARGET_* (which kernel ABI the plan was compiled for)
 *       16    8  file_size        total bytes of the file
 *       24    8  arena_size       bytes of the scratch arena the caller provides to run
 *       32    8  kernels_id       FNV-1a 64 of the generated kernel source; must equal the linked
 *                                 infc_model_kernels_id (a plan only runs with its own kernels)
 *       40    4  kernel_count     must equal the linked infc_model_kernel_count
 *       44    4  tensor_count     records in the tensor table
 *       48    4  step_count       records in the step table
 *       52    4  arg_count        entries in the arg list
 *       56    4  input_count      entries at the start of the io list
 *       60    4  output_count     entries after the inputs in the io list
 *       64    8  plan_offset      absolute
 *       72    8  plan_size
 *       80    8  weights_offset   absolute, multiple of INFC_PLAN_WEIGHTS_ALIGN
 *       88    8  weights_size
 *       96    8  tensors_offset   absolute, inside the plan section, 8-byte aligned
 *      104    8  steps_offset     absolute, inside the plan section, 8-byte aligned
 *      112    8  args_offset      absolute, inside the plan section, 4-byte aligned
 *      120    8  io_offset        absolute, inside the plan section, 4-byte aligned
 *      128    8  strings_offset   absolute, inside the plan section
 *      136    8  strings_size     bytes of the string table; its last byte is NUL
 *      144    8  plan_checksum    FNV-1a 64 of the plan section
 *      152    8  weights_checksum FNV-1a 64 of the weights section
 *      160    8  prepared_size    bytes of PREPARED tensor storage the model allocates at load
 *                                 (a multiple of 64, at most 8 * weights_size + 64 MiB)
 *      168    8  header_checksum  FNV-1a 64 of header bytes [0, 168)
 *
 * 2. Tensor record (88 bytes each). Tensors are storage roots: a view shares its base's record.
 *        0    1  kind             INFC_TENSOR_*
 *        1    1  dtype            INFC_DTYPE_* (ONNX TensorProto numbers; block types from 64)
 *        2    1  rank             0..INFC_PLAN_MAX_RANK
 *        3    1  reserved         zero
 *        4    4  name             offset of a NUL-terminated UTF-8 name in the string table
 *        8    8  offset           ARENA: byte offset in the arena; CONST: byte offset in the
 *                                 weights section; PREPARED: byte offset in the prepared block;
 *                                 INPUT/OUTPUT: zero. Multiple of 64 for the others.
 *       16    8  bytes            byte size; equals the size implied by dtype and dims
 *       24   64  dims[8]          int64 each; dims[rank..8) are zero
 *
 * 3. Step record (24 bytes each), run in order:
 *        0    4  kernel           index into infc_model_kernels
 *        4    4  arg_begin        first entry in the arg list
 *        8    4  arg_count        entries in the arg list
 *       12    4  flags            INFC_STEP_* bits; other bits zero
 *       16    8  tasks            the kernel's parallel iteration space [0, tasks), >= 1
 *
 *    Steps flagged INFC_STEP_PREPARE come first. They compute PREPARED tensors (constant weights
 *    repacked or transformed for the kernels that read them) from CONST and PREPARED tensors only,
 *    and run once per loaded model, before its first run; the other steps run on every run.
 *
 * 4. Arg list: uint32 tensor ids; a step passes the tensors' pointers in this order.
 * 5. Io list: input_count then output_count uint32 tensor ids, in the model's order. Every INPUT
 *    tensor appears exactly once among the inputs, every OUTPUT tensor once among the outputs.
 * 6. String table: NUL-terminated names, referenced by byte offset.
 *
 * FNV-1a 64: h = 0xcbf29ce484222325; for each byte b: h ^= b; h *= 0x100000001b3 (mod 2^64).
 */
#ifndef INFC_PLAN_H
#define INFC_PLAN_H

#define INFC_PLAN_MAGIC "INFC"
#define INFC_PLAN_VERSION 2
#define INFC_PLAN_HEADER_SIZE 176
#define INFC_PLAN_WEIGHTS_ALIGN 64
#define INFC_PLAN_ARENA_ALIGN 64
#define INFC_PLAN_MAX_RANK 8

/* header field offsets */
#define INFC_PLAN_H_MAGIC 0
#define INFC_PLAN_H_VERSION 4
#define INFC_PLAN_H_HEADER_SIZE 8
#define INFC_PLAN_H_TARGET 12
#define INFC_PLAN_H_FILE_SIZE 16
#define INFC_PLAN_H_ARENA_SIZE 24
#define INFC_PLAN_H_KERNELS_ID 32
#define INFC_PLAN_H_KERNEL_COUNT 40
#define INFC_PLAN_H_TENSOR_COUNT 44
#define INFC_PLAN_H_STEP_COUNT 48
#define INFC_PLAN_H_ARG_COUNT 52
#define INFC_PLAN_H_INPUT_COUNT 56
#define INFC_PLAN_H_OUTPUT_COUNT 60
#define INFC_PLAN_H_PLAN_OFFSET 64
#define INFC_PLAN_H_PLAN_SIZE 72
#define INFC_PLAN_H_WEIGHTS_OFFSET 80
#define INFC_PLAN_H_WEIGHTS_SIZE 88
#define INFC_PLAN_H_TENSORS_OFFSET 96
#define INFC_PLAN_H_STEPS_OFFSET 104
#define INFC_PLAN_H_ARGS_OFFSET 112
#define INFC_PLAN_H_IO_OFFSET 120
#define INFC_PLAN_H_STRINGS_OFFSET 128
#define INFC_PLAN_H_STRINGS_SIZE 136
#define INFC_PLAN_H_PLAN_CHECKSUM 144
#define INFC_PLAN_H_WEIGHTS_CHECKSUM 152
#define INFC_PLAN_H_PREPARED_SIZE 160
#define INFC_PLAN_H_HEADER_CHECKSUM 168

/* tensor record */
#define INFC_PLAN_TENSOR_SIZE 88
#define INFC_PLAN_T_KIND 0
#define INFC_PLAN_T_DTYPE 1
#define INFC_PLAN_T_RANK 2
#define INFC_PLAN_T_RESERVED 3
#define INFC_PLAN_T_NAME 4
#define INFC_PLAN_T_OFFSET 8
#define INFC_PLAN_T_BYTES 16
#define INFC_PLAN_T_DIMS 24

/* step record */
#define INFC_PLAN_STEP_SIZE 24
#define INFC_PLAN_S_KERNEL 0
#define INFC_PLAN_S_ARG_BEGIN 4
#define INFC_PLAN_S_ARG_COUNT 8
#define INFC_PLAN_S_FLAGS 12
#define INFC_PLAN_S_TASKS 16

/* limits the loader enforces before any arithmetic (larger counts are rejected as corrupt) */
#define INFC_PLAN_MAX_TENSORS 16777216
#define INFC_PLAN_MAX_STEPS 16777216
#define INFC_PLAN_MAX_ARGS 67108864
#define INFC_PLAN_MAX_KERNELS 1048576
#define INFC_PLAN_MAX_IO 65536
#define INFC_PLAN_MAX_DIM 1099511627776 /* 2^40 */
#define INFC_PLAN_MAX_TASKS 281474976710656 /* 2^48 */
/* prepared_size <= PREPARED_FACTOR * weights_size + PREPARED_SLACK (prepared data derives from the weights) */
#define INFC_PLAN_PREPARED_FACTOR 8
#define INFC_PLAN_PREPARED_SLACK 67108864

/* targets (kernel ABIs) */
#define INFC_TARGET_C 1

/* tensor kinds */
#define INFC_TENSOR_INPUT 0
#define INFC_TENSOR_OUTPUT 1
#define INFC_TENSOR_CONST 2
#define INFC_TENSOR_ARENA 3
#define INFC_TENSOR_PREPARED 4

/* step flags */
#define INFC_STEP_PREPARE 1

/* dtypes: ONNX TensorProto.DataType numbers (file-format numbers: never renumbered) */
#define INFC_DTYPE_F32 1
#define INFC_DTYPE_U8 2
#define INFC_DTYPE_I8 3
#define INFC_DTYPE_U16 4
#define INFC_DTYPE_I16 5
#define INFC_DTYPE_I32 6
#define INFC_DTYPE_I64 7
#define INFC_DTYPE_BOOL 9
#define INFC_DTYPE_F16 10
#define INFC_DTYPE_F64 11
#define INFC_DTYPE_U32 12
#define INFC_DTYPE_U64 13
#define INFC_DTYPE_BF16 16
#define INFC_DTYPE_F8E4M3FN 17
#define INFC_DTYPE_F8E4M3FNUZ 18
#define INFC_DTYPE_F8E5M2 19
#define INFC_DTYPE_F8E5M2FNUZ 20
#define INFC_DTYPE_U4 21
#define INFC_DTYPE_I4 22
/* block-quantized storage (GGUF layouts): bytes = ceil(elements / block) * block bytes */
#define INFC_DTYPE_Q4_0 64
#define INFC_DTYPE_Q4_1 65
#define INFC_DTYPE_Q8_0 66
#define INFC_DTYPE_Q4_K 67
#define INFC_DTYPE_Q6_K 68

#endif
