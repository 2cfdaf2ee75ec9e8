#include "CLecternKernels.h"
#include <stdlib.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int os_saves_zmm(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;  // OSXSAVE
    // XCR0: SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7).
    return (xgetbv0() & 0xE6) == 0xE6;
}

int lectern_cpu_has_avx512f(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) && os_saves_zmm();
}

int lectern_cpu_has_avx512bf16(void) {
    unsigned a, b, c, d;
    if (!lectern_cpu_has_avx512f()) return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a & (1u << 5)) != 0;  // CPUID.(EAX=7,ECX=1):EAX[5] = AVX512_BF16
}
#else
int lectern_cpu_has_avx512f(void) { return 0; }
int lectern_cpu_has_avx512bf16(void) { return 0; }
#endif

void lectern_pack_f32(const float *w, int out, int in, float *panels) {
    for (int p = 0; p < out / LECTERN_NR; p++) {
        float *dst = panels + (long)p * in * LECTERN_NR;
        for (int k = 0; k < in; k++)
            for (int c = 0; c < LECTERN_NR; c++) dst[(long)k * LECTERN_NR + c] = w[(long)(p * LECTERN_NR + c) * in + k];
    }
}

static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);  // NaN stays NaN
    u += 0x7fff + ((u >> 16) & 1);                                            // round to nearest even
    return (uint16_t)(u >> 16);
}

void lectern_pack_bf16(const float *w, int out, int in, uint16_t *panels) {
    for (int p = 0; p < out / LECTERN_NR; p++) {
        uint16_t *dst = panels + (long)p * in * LECTERN_NR;
        for (int q = 0; q < in / 2; q++)
            for (int c = 0; c < LECTERN_NR; c++) {
                const float *row = w + (long)(p * LECTERN_NR + c) * in;
                dst[((long)q * LECTERN_NR + c) * 2] = to_bf16(row[2 * q]);
                dst[((long)q * LECTERN_NR + c) * 2 + 1] = to_bf16(row[2 * q + 1]);
            }
    }
}

// Depth per pass: a kc x 32 fp32 panel slice is 32 KiB (L1 is 48 KiB on Zen 5), reused by
// every 12-row micro-tile of the task's rows.
enum { KC = 256 };

long lectern_sgemm_work_floats(int rows) { return (long)rows * KC; }

long lectern_attention32_work_floats(int n) {
    long nq = (n + 11) / 12 * 12, nk = (n + 31) / 32 * 32;
    return nq * 32 + nk * 64 + nq * nk + nq * 32;
}

#if defined(__x86_64__)
#define F32 __attribute__((target("avx512f,fma,avx2")))
#define BF16 __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl,fma,avx2")))


// e^x for x <= 0 (softmax after subtracting the max): x = k ln2 + r, degree-6 polynomial on r,
// relative error ~2e-7; inputs below -87 give 0.
F32 static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.442695041f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(k, _mm512_set1_ps(-0.693145752f), x);
    r = _mm512_fmadd_ps(k, _mm512_set1_ps(-1.428606765e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}


// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), then GELU = x/2 (1 + erf(x/sqrt 2)):
// the same formula as the Swift VectorMath.gelu.
F32 static inline __m512 gelu512(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 az = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 y = _mm512_set1_ps(1.061405429f);
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-1.453152027f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(1.421413741f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-0.284496736f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(0.254829592f));
    y = _mm512_mul_ps(y, t);
    __m512 e = _mm512_fnmadd_ps(y, exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(az, az))), _mm512_set1_ps(1.0f));
    // erf(z) has the sign of z (x): copy the sign bit.
    e = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(e),
            _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000))));
    __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(half, e, half);
}

F32 void lectern_gelu_avx512(float *x, long count) {
    for (long i = 0; i + 16 <= count; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
}

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// C[12 x 32] = (bias or C) + A[12 x depth] . B[depth x 32]
// A is a packed micro-panel: for each k, the 12 rows' values contiguously.
F32 static inline void k12x32(const float *a, const float *b, int depth, float *c, long ldc,
                              const float *bias, int gelu) {
#define DECL(i) __m512 c##i##0, c##i##1;
    ROWS(DECL)
#undef DECL
    if (bias) {
        __m512 lo = _mm512_loadu_ps(bias), hi = _mm512_loadu_ps(bias + 16);
#define INIT(i) c##i##0 = lo; c##i##1 = hi;
        ROWS(INIT)
#undef INIT
    } else {
#define LOAD(i) c##i##0 = _mm512_loadu_ps(c + i * ldc); c##i##1 = _mm512_loadu_ps(c + i * ldc + 16);
        ROWS(LOAD)
#undef LOAD
    }
    for (int kk = 0; kk < depth; kk++) {
        __m512 b0 = _mm512_load_ps(b + kk * 32), b1 = _mm512_load_ps(b + kk * 32 + 16);
#define FMA(i) { __m512 x = _mm512_set1_ps(a[kk * 12 + i]); c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0); c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1); }
        ROWS(FMA)
#undef FMA
    }
    if (gelu) {
#define G(i) c##i##0 = gelu512(c##i##0); c##i##1 = gelu512(c##i##1);
        ROWS(G)
#undef G
    }
#define STORE(i) _mm512_storeu_ps(c + i * ldc, c##i##0); _mm512_storeu_ps(c + i * ldc + 16, c##i##1);
    ROWS(STORE)
#undef STORE
}

F32 void lectern_sgemm_f32_avx512(const float *a, int lda, const float *panels, const float *bias,
                                  float *c, int ldc, int r0, int r1, int in, int out, int gelu, float *work) {
    int np = out / LECTERN_NR;
    float *ap = work;
    for (int p0 = 0; p0 < in; p0 += KC) {
        int depth = in - p0 < KC ? in - p0 : KC;
        // Pack the rows' slice into 12-row micro-panels: broadcasts then read one stream.
        for (int r = r0; r < r1; r += LECTERN_MR) {
            float *dst = ap + (long)(r - r0) * depth;
            for (int i = 0; i < LECTERN_MR; i++) {
                const float *src = a + (long)(r + i) * lda + p0;
                for (int k = 0; k < depth; k++) dst[k * LECTERN_MR + i] = src[k];
            }
        }
        for (int p = 0; p < np; p++) {
            const float *panel = panels + ((long)p * in + p0) * LECTERN_NR;
            const float *bp = p0 == 0 ? bias + p * LECTERN_NR : 0;
            for (int r = r0; r < r1; r += LECTERN_MR)
                k12x32(ap + (long)(r - r0) * depth, panel, depth, c + (long)r * ldc + p * LECTERN_NR, ldc, bp,
                       gelu && p0 + depth == in);
        }
    }
}

// bf16: A row r as uint16 pairs; one 32-bit broadcast holds (a[2q], a[2q+1]).
BF16 static inline void k12x32_bf16(const uint32_t *a, const uint16_t *b, int pairs, float *c, long ldc,
                                    const float *bias, int gelu) {
#define DECL(i) __m512 c##i##0, c##i##1;
    ROWS(DECL)
#undef DECL
    if (bias) {
        __m512 lo = _mm512_loadu_ps(bias), hi = _mm512_loadu_ps(bias + 16);
#define INIT(i) c##i##0 = lo; c##i##1 = hi;
        ROWS(INIT)
#undef INIT
    } else {
#define LOAD(i) c##i##0 = _mm512_loadu_ps(c + i * ldc); c##i##1 = _mm512_loadu_ps(c + i * ldc + 16);
        ROWS(LOAD)
#undef LOAD
    }
    for (int q = 0; q < pairs; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(b + q * 64));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + q * 64 + 32));
#define DOT(i) { __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[q * 12 + i]); \
                 c##i##0 = _mm512_dpbf16_ps(c##i##0, x, b0); c##i##1 = _mm512_dpbf16_ps(c##i##1, x, b1); }
        ROWS(DOT)
#undef DOT
    }
    if (gelu) {
#define G(i) c##i##0 = gelu512(c##i##0); c##i##1 = gelu512(c##i##1);
        ROWS(G)
#undef G
    }
#define STORE(i) _mm512_storeu_ps(c + i * ldc, c##i##0); _mm512_storeu_ps(c + i * ldc + 16, c##i##1);
    ROWS(STORE)
#undef STORE
}

BF16 void lectern_sgemm_bf16_avx512(const float *a, int lda, const uint16_t *panels, const float *bias,
                                    float *c, int ldc, int r0, int r1, int in, int out, int gelu, float *work) {
    int np = out / LECTERN_NR;
    enum { KC2 = 2 * KC };  // bf16 panels are half the bytes: twice the depth per pass
    uint32_t *ap = (uint32_t *)work;  // pairs <= KC per row: the same bytes as the fp32 slice
    for (int p0 = 0; p0 < in; p0 += KC2) {
        int depth = in - p0 < KC2 ? in - p0 : KC2, pairs = depth / 2;
        // Round the rows' slice to bf16 (nearest even, as the weights) and pack it in 12-row
        // micro-panels of (a[2q], a[2q+1]) pairs: one 32-bit broadcast per row and pair.
        for (int r = r0; r < r1; r += LECTERN_MR) {
            uint32_t *dst = ap + (long)(r - r0) * pairs;
            for (int i = 0; i < LECTERN_MR; i++) {
                const float *src = a + (long)(r + i) * lda + p0;
                int q = 0;
                for (; q + 16 <= pairs; q += 16) {
                    __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 2 * q + 16), _mm512_loadu_ps(src + 2 * q));
                    uint32_t tmp[16];
                    _mm512_storeu_si512((void *)tmp, (__m512i)v);
                    for (int j = 0; j < 16; j++) dst[(q + j) * LECTERN_MR + i] = tmp[j];
                }
                for (; q < pairs; q++)
                    dst[q * LECTERN_MR + i] = (uint32_t)to_bf16(src[2 * q]) | ((uint32_t)to_bf16(src[2 * q + 1]) << 16);
            }
        }
        for (int p = 0; p < np; p++) {
            const uint16_t *panel = panels + ((long)p * in + p0) * LECTERN_NR;
            const float *bp = p0 == 0 ? bias + p * LECTERN_NR : 0;
            for (int r = r0; r < r1; r += LECTERN_MR)
                k12x32_bf16(ap + (long)(r - r0) * pairs, panel, pairs, c + (long)r * ldc + p * LECTERN_NR, ldc, bp,
                            gelu && p0 + depth == in);
        }
    }
}


// C[12 x 32] = A[12 x depth] (rows lda apart) . B[depth x 32] (rows ldb apart), overwrite.
F32 static inline void k12x32_strided(const float *a, long lda, const float *b, long ldb, int depth, float *c, long ldc) {
#define DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
    ROWS(DECL)
#undef DECL
    for (int kk = 0; kk < depth; kk++) {
        __m512 b0 = _mm512_loadu_ps(b + kk * ldb), b1 = _mm512_loadu_ps(b + kk * ldb + 16);
#define FMA(i) { __m512 x = _mm512_set1_ps(a[i * lda + kk]); c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0); c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1); }
        ROWS(FMA)
#undef FMA
    }
#define STORE(i) _mm512_storeu_ps(c + i * ldc, c##i##0); _mm512_storeu_ps(c + i * ldc + 16, c##i##1);
    ROWS(STORE)
#undef STORE
}

F32 void lectern_attention32_avx512(const float *qkv, int ld, int hidden, int n, float scale, float *out, int ldo,
                                    float *work) {
    int nq = (n + 11) / 12 * 12, nk = (n + 31) / 32 * 32;
    float *scratch = work;
    float *q = scratch;              // nq x 32, queries (scaled), zero-padded
    float *kt = q + nq * 32;         // 32 x nk, keys transposed, zero-padded
    float *v = kt + nk * 32;         // nk x 32, values, zero-padded
    float *s = v + nk * 32;          // nq x nk, scores then probabilities
    float *o = s + (long)nq * nk;    // nq x 32, context
    __m512 sc = _mm512_set1_ps(scale);
    for (int i = 0; i < nq; i++) {
        if (i < n) {
            const float *src = qkv + (long)i * ld;
            _mm512_storeu_ps(q + i * 32, _mm512_mul_ps(_mm512_loadu_ps(src), sc));
            _mm512_storeu_ps(q + i * 32 + 16, _mm512_mul_ps(_mm512_loadu_ps(src + 16), sc));
        } else {
            _mm512_storeu_ps(q + i * 32, _mm512_setzero_ps());
            _mm512_storeu_ps(q + i * 32 + 16, _mm512_setzero_ps());
        }
    }
    for (int j = 0; j < nk; j++) {
        if (j < n) {
            const float *kr = qkv + (long)j * ld + hidden, *vr = kr + hidden;
            for (int c = 0; c < 32; c++) kt[c * nk + j] = kr[c];
            _mm512_storeu_ps(v + j * 32, _mm512_loadu_ps(vr));
            _mm512_storeu_ps(v + j * 32 + 16, _mm512_loadu_ps(vr + 16));
        } else {
            for (int c = 0; c < 32; c++) kt[c * nk + j] = 0;
            _mm512_storeu_ps(v + j * 32, _mm512_setzero_ps());
            _mm512_storeu_ps(v + j * 32 + 16, _mm512_setzero_ps());
        }
    }
    // Scores: 12 queries x 32 keys per tile.
    for (int i = 0; i < nq; i += 12)
        for (int j = 0; j < nk; j += 32) k12x32_strided(q + i * 32, 32, kt + j, nk, 32, s + (long)i * nk + j, nk);
    // Softmax over the n real keys of each real query row; padded keys get probability 0.
    __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1);
    int full = n & ~15;
    for (int i = 0; i < n; i++) {
        float *row = s + (long)i * nk;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < full; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
        if (tail) mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_loadu_ps(row + full));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < full; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
            _mm512_storeu_ps(row + j, e);
            sum = _mm512_add_ps(sum, e);
        }
        for (int j = full; j < nk; j += 16) {
            __m512 e = _mm512_maskz_mov_ps(j == full ? tail : 0, exp512(_mm512_sub_ps(_mm512_loadu_ps(row + j), m)));
            _mm512_storeu_ps(row + j, e);
            sum = _mm512_add_ps(sum, e);
        }
        float inv = 1.0f / _mm512_reduce_add_ps(sum);
        __m512 vi = _mm512_set1_ps(inv);
        for (int j = 0; j < nk; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), vi));
    }
    // Context: P (12 rows) . V, depth over the keys (padded keys have p = 0 and v = 0).
    for (int i = 0; i < nq; i += 12) k12x32_strided(s + (long)i * nk, nk, v, 32, nk, o + i * 32, 32);
    for (int i = 0; i < n; i++) {
        _mm512_storeu_ps(out + (long)i * ldo, _mm512_loadu_ps(o + i * 32));
        _mm512_storeu_ps(out + (long)i * ldo + 16, _mm512_loadu_ps(o + i * 32 + 16));
    }
}

F32 double lectern_fma_avx512_probe(long iterations, float *sink) {
    __m512 y = _mm512_set1_ps(1e-7f), x = _mm512_set1_ps(-1e-7f);
#define A(i) __m512 a##i = _mm512_set1_ps(1.0f);
    ROWS(A)
#undef A
    for (long t = 0; t < iterations; t++) {
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, (i & 1) ? x : y, a##i);
        ROWS(STEP)
#undef STEP
        __asm__ volatile("" ::: "memory");
    }
    __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, a##i);
    ROWS(SUM)
#undef SUM
    *sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 12 * 16 * 2;
}

BF16 double lectern_bf16_probe(long iterations, float *sink) {
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x33d633d6);
#define A(i) __m512 a##i = _mm512_set1_ps(1.0f);
    ROWS(A)
#undef A
    for (long t = 0; t < iterations; t++) {
#define STEP(i) a##i = _mm512_dpbf16_ps(a##i, x, y);
        ROWS(STEP)
#undef STEP
        __asm__ volatile("" ::: "memory");
    }
    __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, a##i);
    ROWS(SUM)
#undef SUM
    *sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 12 * 32 * 2;
}
#else
void lectern_sgemm_f32_avx512(const float *a, int lda, const float *panels, const float *bias, float *c, int ldc,
                              int r0, int r1, int in, int out, int gelu, float *work) {}
void lectern_sgemm_bf16_avx512(const float *a, int lda, const uint16_t *panels, const float *bias, float *c, int ldc,
                               int r0, int r1, int in, int out, int gelu, float *work) {}
void lectern_gelu_avx512(float *x, long count) {}
double lectern_fma_avx512_probe(long iterations, float *sink) { return 0; }
void lectern_attention32_avx512(const float *qkv, int ld, int hidden, int n, float scale, float *out, int ldo,
                                float *work) {}
double lectern_bf16_probe(long iterations, float *sink) { return 0; }
#endif
