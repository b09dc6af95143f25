/* Peak arithmetic throughput of one core: binary (XOR + popcount), float32 FMA, int8 dot products.
 *
 * Compiled at run time by bhpe_tf/conversion/limits.py with `cc -O3 -march=native`; every kernel
 * works on registers or an L1-resident 4 KiB block, so the figures are the core's arithmetic limit,
 * not a memory bound. Output: one line "name MACs-per-second" per kernel (best of 3) (MACs: binary MACs for the
 * popcount kernels, 1 FMA = 1 MAC, one int8 multiply-add = 1 MAC). Usage: limits_kernel SECONDS
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define WORDS 512 /* 4 KiB of activations, 8 x 4 KiB of weights: L1 (32 KiB) resident */
#define OUTS 8
static uint64_t act[WORDS] __attribute__((aligned(64)));
static uint64_t wgt[OUTS][WORDS] __attribute__((aligned(64)));
static volatile uint64_t sink;
static volatile float fsink;

/* Binary MACs with the scalar POPCNT instruction: 8 output channels share one activation word. */
static double popcnt_scalar(long reps) {
    uint64_t s[OUTS] = {0};
    for (long r = 0; r < reps; r++) {
        for (int i = 0; i < WORDS; i++) {
            uint64_t a = act[i];
            for (int j = 0; j < OUTS; j++) s[j] += (uint64_t)__builtin_popcountll(a ^ wgt[j][i]);
        }
        act[r % WORDS] ^= s[r % OUTS] & 1; /* a data dependency, so the loop cannot be hoisted */
    }
    uint64_t t = 0;
    for (int j = 0; j < OUTS; j++) t += s[j];
    sink = t;
    return (double)reps * WORDS * OUTS * 64.0;
}

#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512F__)
static double popcnt_vector(long reps) {
    __m512i s[OUTS];
    for (int j = 0; j < OUTS; j++) s[j] = _mm512_setzero_si512();
    for (long r = 0; r < reps; r++) {
        for (int i = 0; i < WORDS; i += 8) {
            __m512i a = _mm512_load_si512((const void *)&act[i]);
            for (int j = 0; j < OUTS; j++)
                s[j] = _mm512_add_epi64(s[j], _mm512_popcnt_epi64(_mm512_xor_si512(a, _mm512_load_si512((const void *)&wgt[j][i]))));
        }
        act[r % WORDS] ^= (uint64_t)_mm512_reduce_add_epi64(s[r % OUTS]) & 1;
    }
    uint64_t t = 0;
    for (int j = 0; j < OUTS; j++) t += (uint64_t)_mm512_reduce_add_epi64(s[j]);
    sink = t;
    return (double)reps * WORDS * OUTS * 64.0;
}
#define POPCNT_VECTOR "popcount_avx512_vpopcntdq"
#elif defined(__AVX2__)
/* AVX2 has no vector popcount: the nibble look-up (VPSHUFB) + VPSADBW method (Mula et al.). */
static double popcnt_vector(long reps) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i s[OUTS];
    for (int j = 0; j < OUTS; j++) s[j] = _mm256_setzero_si256();
    for (long r = 0; r < reps; r++) {
        for (int i = 0; i < WORDS; i += 4) {
            __m256i a = _mm256_load_si256((const __m256i *)&act[i]);
            for (int j = 0; j < OUTS; j++) {
                __m256i x = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)&wgt[j][i]));
                __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                            _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
                s[j] = _mm256_add_epi64(s[j], _mm256_sad_epu8(c, _mm256_setzero_si256()));
            }
        }
        act[r % WORDS] ^= (uint64_t)_mm256_extract_epi64(s[r % OUTS], 0) & 1;
    }
    uint64_t t = 0;
    for (int j = 0; j < OUTS; j++) t += (uint64_t)_mm256_extract_epi64(s[j], 0) + (uint64_t)_mm256_extract_epi64(s[j], 3);
    sink = t;
    return (double)reps * WORDS * OUTS * 64.0;
}
#define POPCNT_VECTOR "popcount_avx2_pshufb"
#endif

/* float32 FMA: 12 independent vector accumulators (hides the FMA latency on 2 FMA pipes). */
#if defined(__AVX512F__)
typedef float vf __attribute__((vector_size(64)));
#define LANES 16
#elif defined(__AVX__)
typedef float vf __attribute__((vector_size(32)));
#define LANES 8
#else
typedef float vf __attribute__((vector_size(16)));
#define LANES 4
#endif
#define CHAINS 12
static double fma_f32(long reps, float m, float c) {
    vf acc[CHAINS];
    for (int k = 0; k < CHAINS; k++)
        for (int l = 0; l < LANES; l++) acc[k][l] = (float)(k + l) * 1e-3f;
    vf vm, vc;
    for (int l = 0; l < LANES; l++) { vm[l] = m; vc[l] = c; }
    for (long r = 0; r < reps; r++) {
#pragma GCC unroll 12
        for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * vm + vc;
    }
    float t = 0;
    for (int k = 0; k < CHAINS; k++)
        for (int l = 0; l < LANES; l++) t += acc[k][l];
    fsink = t;
    return (double)reps * CHAINS * LANES;
}

/* int8 dot products (the MACs of a full-integer model): VNNI VPDPBUSD where present, otherwise
 * AVX2 VPMADDUBSW + VPMADDWD (+ add), as XNNPACK's QS8 kernels do on such CPUs. */
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
static double dot_int8(long reps) {
    __m512i acc[CHAINS];
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_set1_epi32(k);
    for (long r = 0; r < reps; r++)
        for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    int64_t t = 0;
    for (int k = 0; k < CHAINS; k++) t += _mm512_reduce_add_epi32(acc[k]);
    sink = (uint64_t)t;
    return (double)reps * CHAINS * 64.0;
}
#define DOT_INT8 "int8_avx512_vnni"
#elif defined(__AVX2__)
static double dot_int8(long reps) {
    __m256i acc[CHAINS];
    __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
    for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_set1_epi32(k);
    for (long r = 0; r < reps; r++)
        for (int k = 0; k < CHAINS; k++)
            acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
    int64_t t = 0;
    for (int k = 0; k < CHAINS; k++) t += _mm256_extract_epi32(acc[k], 0);
    sink = (uint64_t)t;
    return (double)reps * CHAINS * 32.0;
}
#define DOT_INT8 "int8_avx2_maddubs"
#endif

/* Run ``kernel`` with growing repetitions until one call takes >= seconds; print the best rate of 3. */
#define MEASURE(name, call)                                                         \
    do {                                                                            \
        long reps = 16;                                                             \
        double macs = 0, dt = 0;                                                    \
        for (;;) {                                                                  \
            double t0 = now();                                                      \
            long reps_ = reps; (void)reps_;                                         \
            macs = call;                                                            \
            dt = now() - t0;                                                        \
            if (dt >= seconds) break;                                               \
            reps *= 2;                                                              \
        }                                                                           \
        double best = macs / dt;                                                    \
        for (int rep = 0; rep < 2; rep++) {                                         \
            double t0 = now();                                                      \
            macs = call;                                                            \
            dt = now() - t0;                                                        \
            if (macs / dt > best) best = macs / dt;                                 \
        }                                                                           \
        printf("%s %.6e\n", name, best);                                             \
    } while (0)

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    srand(1);
    for (int i = 0; i < WORDS; i++) {
        act[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
        for (int j = 0; j < OUTS; j++) wgt[j][i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 7) ^ (uint64_t)rand();
    }
    volatile float m = 0.99999f, c = 1e-6f;
    MEASURE("popcount_scalar", popcnt_scalar(reps));
#ifdef POPCNT_VECTOR
    MEASURE(POPCNT_VECTOR, popcnt_vector(reps));
#endif
    MEASURE("fma_f32", fma_f32(reps * 64, m, c));
#ifdef DOT_INT8
    MEASURE(DOT_INT8, dot_int8(reps * 64));
#endif
    return 0;
}
