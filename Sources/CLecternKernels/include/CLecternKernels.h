// Hand-written x86-64 kernels of the MiniLM encoder that Swift cannot express: AVX-512 and
// AVX512_BF16 intrinsics, compiled per function with target attributes so the target builds
// (and the package runs) on any x86-64 CPU; callers check the cpuid answers below first.
// On other architectures every function exists and reports "not supported".
#ifndef CLECTERN_KERNELS_H
#define CLECTERN_KERNELS_H
#include <stdint.h>

/// 1 when the CPU and the OS support AVX-512F (zmm state enabled in XCR0).
int lectern_cpu_has_avx512f(void);
/// 1 when the CPU also has AVX512_BF16 (vdpbf16ps) and the OS enables zmm state.
int lectern_cpu_has_avx512bf16(void);

/// Panel widths of the packed weights the kernels below read.
enum { LECTERN_NR = 32, LECTERN_MR = 12 };

/// fp32 weights `w` (out x in, row-major, out % 32 == 0) packed into panels of 32 output
/// columns: panel p, input index k holds w[32p .. 32p+31][k] contiguously.
void lectern_pack_f32(const float *w, int out, int in, float *panels);

/// bf16 weights packed for vdpbf16ps: panel p, input pair q holds, for each of the 32 columns,
/// (w[c][2q], w[c][2q+1]) as two bf16 (round to nearest even). `in` must be even.
void lectern_pack_bf16(const float *w, int out, int in, uint16_t *panels);

/// Floats of work memory the GEMMs below need for `rows` = r1 - r0 rows.
long lectern_sgemm_work_floats(int rows);
/// Floats of work memory the attention kernel needs for a sequence of `n` tokens.
long lectern_attention32_work_floats(int n);

// Work memory is the caller's, not thread-local: the kernels run on whatever threads call
// them (dispatch workers, a caller's own short-lived thread), and a buffer tied to a thread's
// lifetime is one nobody can account for. `work` must be 64-byte aligned and unshared while
// the call runs.

/// C[r0..r1) = A[r0..r1) * W^T + bias, fp32, AVX-512. (r1 - r0) % 12 == 0; rows of A are `in`
/// wide (lda), rows of C `out` wide (ldc). `gelu` != 0 applies exact-erf GELU to the result.
/// `work`: lectern_sgemm_work_floats(r1 - r0) floats.
void lectern_sgemm_f32_avx512(const float *a, int lda, const float *panels, const float *bias,
                              float *c, int ldc, int r0, int r1, int in, int out, int gelu, float *work);

/// The same with A rounded to bf16 and bf16 weights, products summed in fp32 by vdpbf16ps.
void lectern_sgemm_bf16_avx512(const float *a, int lda, const uint16_t *panels, const float *bias,
                               float *c, int ldc, int r0, int r1, int in, int out, int gelu, float *work);

/// Exact-erf GELU in place (count % 16 == 0), AVX-512.
void lectern_gelu_avx512(float *x, long count);

/// Self-attention of one head of one sequence, head size 32, AVX-512: `qkv` points at the
/// sequence's first row (rows `ld` floats apart) already offset to this head's query columns;
/// its keys are `hidden` floats further, its values `2 * hidden`. Writes the n x 32 context rows
/// to `out` (rows `ldo` apart). `work`: lectern_attention32_work_floats(n) floats.
void lectern_attention32_avx512(const float *qkv, int ld, int hidden, int n, float scale, float *out, int ldo,
                                float *work);

/// FLOP/s of independent zmm FMA chains on the calling thread for `iterations` rounds
/// (returns the FLOP count; the caller times it). 0 when AVX-512 is unavailable.
double lectern_fma_avx512_probe(long iterations, float *sink);
/// The same for vdpbf16ps (2 multiply-adds per lane per instruction).
double lectern_bf16_probe(long iterations, float *sink);
#endif
