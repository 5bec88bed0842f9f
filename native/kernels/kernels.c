/*
 * The inner loops of worker/comm in C, for speed: the ring's float32 sums with their
 * finiteness check (reduce-kernels.ts) and the codecs' kernels: binary16 (half.ts),
 * qsgd8 (compression/qsgd8.ts) and sign-ef (compression/sign-ef.ts).
 *
 * Every function computes exactly what its TypeScript twin computes, bit for bit
 * (test/worker/comm/native-kernels.test.ts checks them against each other): JavaScript
 * arithmetic is IEEE double, so intermediates here are double, stores to Float32Array
 * round to float, and no fast-math or FMA contraction is allowed (binding.gyp).
 * The callers keep the TypeScript path for hosts where this addon is not built.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATHS 1
#endif

/*
 * The hot loops are compiled twice, for AVX2 and for baseline x86-64, and the loader picks
 * one per CPU (GCC function multi-versioning): the images run on nodes of unknown age, and
 * AVX2's 8-lane integer multiply is what lets mulberry32 and the half conversion vectorize.
 * Lanes compute the same IEEE operations as the scalar code, so results do not change.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

/* ---------------------------------------------------------------- argument plumbing */

#define THROW(env, kind, msg) do { napi_throw_##kind##_error((env), NULL, (msg)); return NULL; } while (0)

typedef struct { void *data; size_t length; napi_typedarray_type type; } view_t;

static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, view_t *out) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &ab, &offset) != napi_ok) return 0;
  return out->type == want;
}

static int number_arg(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

static size_t args(napi_env env, napi_callback_info info, napi_value *argv, size_t max) {
  size_t argc = max;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc;
}

/* ---------------------------------------------------------------- binary16 */

static float half_to_f32[65536];

static void init_half_table(void) {
  for (uint32_t h = 0; h < 65536; h++) {
    uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) { half_to_f32[h] = (float)((sign ? -1.0 : 1.0) * (double)m * 0x1p-24); continue; }
    u = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e - 15 + 127) << 23) | (m << 13));
    memcpy(&half_to_f32[h], &u, 4);
  }
}

/* The binary16 bits of x: halfAt in worker/comm/half.ts. */
static inline uint16_t half_of(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  uint32_t abs = b & 0x7fffffffu, h;
  if (abs >= 0x38800000u) {
    if (abs < 0x47800000u) h = (abs - 0x38000000u + 0xfffu + ((abs >> 13) & 1u)) >> 13;
    else h = abs > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else {
    double v = fabs((double)x) * 16777216.0;
    double f = floor(v + 0.5);
    h = (uint32_t)f;
    if (f - v == 0.5 && (h & 1u)) h--;
  }
  return (uint16_t)(h | ((b >> 16) & 0x8000u));
}

HOT static void encode_half_loop(const float *s, uint8_t *o, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint16_t h = half_of(s[i]);
    o[2 * i] = (uint8_t)(h & 0xff);
    o[2 * i + 1] = (uint8_t)(h >> 8);
  }
}

/* encodeHalf(src: Float32Array, out: Uint8Array) -> undefined; out holds 2 bytes per value, little-endian. */
static napi_value encode_half(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  view_t src, out;
  if (args(env, info, argv, 2) < 2 || !typed_array(env, argv[0], napi_float32_array, &src) || !typed_array(env, argv[1], napi_uint8_array, &out))
    THROW(env, type, "encodeHalf(src: Float32Array, out: Uint8Array)");
  if (out.length < 2 * src.length) THROW(env, range, "encodeHalf: out is shorter than 2 bytes per value");
  encode_half_loop(src.data, out.data, src.length);
  return NULL;
}

/* decodeHalf(bytes: Uint8Array, out: Float32Array, add: boolean) -> undefined: out[i] = or += the value. */
static napi_value decode_half(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  view_t in, out;
  bool add = false;
  if (args(env, info, argv, 3) < 3 || !typed_array(env, argv[0], napi_uint8_array, &in) || !typed_array(env, argv[1], napi_float32_array, &out)
      || napi_get_value_bool(env, argv[2], &add) != napi_ok)
    THROW(env, type, "decodeHalf(bytes: Uint8Array, out: Float32Array, add: boolean)");
  if (in.length < 2 * out.length) THROW(env, range, "decodeHalf: bytes is shorter than 2 per value");
  const uint8_t *b = in.data;
  float *o = out.data;
  if (add) for (size_t i = 0; i < out.length; i++) o[i] = (float)((double)o[i] + (double)half_to_f32[b[2 * i] | (b[2 * i + 1] << 8)]);
  else for (size_t i = 0; i < out.length; i++) o[i] = half_to_f32[b[2 * i] | (b[2 * i + 1] << 8)];
  return NULL;
}

/* ---------------------------------------------------------------- qsgd8 */

/* Σ g[i]² over [a, b) in index order, in double: sumSquares in qsgd8.ts. */
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  napi_value argv[3], ret;
  view_t g;
  double a, b;
  if (args(env, info, argv, 3) < 3 || !typed_array(env, argv[0], napi_float32_array, &g) || !number_arg(env, argv[1], &a) || !number_arg(env, argv[2], &b))
    THROW(env, type, "sumSquares(g: Float32Array, a: number, b: number)");
  if (!(a >= 0 && b >= a && b <= (double)g.length)) THROW(env, range, "sumSquares: [a, b) is outside g");
  const float *x = g.data;
  double sq = 0;
  for (size_t i = (size_t)a; i < (size_t)b; i++) sq += (double)x[i] * (double)x[i];
  napi_create_double(env, sq, &ret);
  return ret;
}

HOT static uint32_t quantize_loop(const float *x, size_t a, size_t b, double norm, uint8_t *out, uint32_t s) {
  const double levels = 127;
  for (size_t i = a; i < b; i++) {
    double v = (double)x[i];
    double q = norm > 0 ? (levels * fabs(v)) / norm : 0;
    int32_t l = (int32_t)q; /* 0 <= q < 128: truncation is JavaScript's q | 0 */
    uint32_t si = s + 0x6d2b79f5u * (uint32_t)(i - a + 1); /* the state after this element's draw */
    uint32_t t = (si ^ (si >> 15)) * (si | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    double u = (double)(t ^ (t >> 14)) * 0x1p-32; /* exact: / 2^32 */
    int32_t up = l + (u < q - (double)l ? 1 : 0);
    int32_t level = up > 127 ? 127 : up;
    out[i] = (uint8_t)(2 * level + (v > 0 ? 1 : 0));
  }
  return s + 0x6d2b79f5u * (uint32_t)(b - a);
}

/*
 * quantizeSegment(g, a, b, norm, bytes, at, state) -> the advanced mulberry32 state (int32):
 * quantizeSegment in qsgd8.ts, the same draws in the same order.
 */
static napi_value quantize_segment(napi_env env, napi_callback_info info) {
  napi_value argv[7], ret;
  view_t g, bytes;
  double a, b, norm, at, state;
  if (args(env, info, argv, 7) < 7 || !typed_array(env, argv[0], napi_float32_array, &g) || !number_arg(env, argv[1], &a)
      || !number_arg(env, argv[2], &b) || !number_arg(env, argv[3], &norm) || !typed_array(env, argv[4], napi_uint8_array, &bytes)
      || !number_arg(env, argv[5], &at) || !number_arg(env, argv[6], &state))
    THROW(env, type, "quantizeSegment(g, a, b, norm, bytes, at, state)");
  if (!(a >= 0 && b >= a && b <= (double)g.length && at >= 0 && at + b <= (double)bytes.length))
    THROW(env, range, "quantizeSegment: a range is outside its array");
  uint32_t s = quantize_loop(g.data, (size_t)a, (size_t)b, norm, (uint8_t *)bytes.data + (size_t)at, (uint32_t)(int32_t)state);
  napi_create_int32(env, (int32_t)s, &ret);
  return ret;
}

/* addCodes(msg, codesAt, a, b, table: Float64Array(256), acc): acc[i] += table[msg[codesAt + i]] for i in [a, b). */
static napi_value add_codes(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  view_t msg, table, acc;
  double at, a, b;
  if (args(env, info, argv, 6) < 6 || !typed_array(env, argv[0], napi_uint8_array, &msg) || !number_arg(env, argv[1], &at)
      || !number_arg(env, argv[2], &a) || !number_arg(env, argv[3], &b) || !typed_array(env, argv[4], napi_float64_array, &table)
      || !typed_array(env, argv[5], napi_float32_array, &acc))
    THROW(env, type, "addCodes(msg, codesAt, a, b, table: Float64Array, acc: Float32Array)");
  if (table.length != 256 || !(a >= 0 && b >= a && b <= (double)acc.length && at >= 0 && at + b <= (double)msg.length))
    THROW(env, range, "addCodes: a range is outside its array");
  const uint8_t *m = (const uint8_t *)msg.data + (size_t)at;
  const double *t = table.data;
  float *o = acc.data;
  for (size_t i = (size_t)a; i < (size_t)b; i++) o[i] = (float)((double)o[i] + t[m[i]]);
  return NULL;
}

/* ---------------------------------------------------------------- sign-ef (compression/sign-ef.ts) */

static inline void store_u32_le(uint8_t *p, uint32_t w) {
  p[0] = (uint8_t)w; p[1] = (uint8_t)(w >> 8); p[2] = (uint8_t)(w >> 16); p[3] = (uint8_t)(w >> 24);
}

static inline void store_f32_le(uint8_t *p, float f) {
  uint32_t w;
  memcpy(&w, &f, 4);
  store_u32_le(p, w);
}

/* Step 1 of compressPiecesWithFeedback: e <- e + g (when g), and Σ|e| over [a, b) in the same four partial sums. */
static double add_and_sum_abs_scalar(float *e, const float *g, size_t a, size_t b) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = a;
  if (g != NULL) {
    for (; i + 4 <= b; i += 4) {
      float v0 = e[i] + g[i], v1 = e[i + 1] + g[i + 1], v2 = e[i + 2] + g[i + 2], v3 = e[i + 3] + g[i + 3];
      e[i] = v0; e[i + 1] = v1; e[i + 2] = v2; e[i + 3] = v3;
      s0 += fabs((double)v0); s1 += fabs((double)v1); s2 += fabs((double)v2); s3 += fabs((double)v3);
    }
    for (; i < b; i++) { float v = e[i] + g[i]; e[i] = v; s0 += fabs((double)v); }
  } else {
    for (; i + 4 <= b; i += 4) {
      s0 += fabs((double)e[i]); s1 += fabs((double)e[i + 1]); s2 += fabs((double)e[i + 2]); s3 += fabs((double)e[i + 3]);
    }
    for (; i < b; i++) s0 += fabs((double)e[i]);
  }
  return s0 + s1 + s2 + s3;
}

/* 32 values of Step 2 from e[i] (i a multiple of 32): their sign word, residuals in place. */
static uint32_t sign_word_scalar(float *e, size_t i, float scale) {
  uint32_t w = 0;
  for (uint32_t k = 0; k < 32; k++) {
    float v = e[i + k];
    uint32_t bit = v >= 0;
    e[i + k] = v - (bit ? scale : -scale);
    w |= bit << k;
  }
  return w;
}

/* The value add_signed starts from: acc[i], or 0 when overwriting (what adding into a zeroed acc gives, bit for bit). */
static inline double signed_base(const float *acc, size_t i, int overwrite) { return overwrite ? 0.0 : (double)acc[i]; }

/* acc[i] += ±w for the 8 values of bit byte `byte` from acc[i], in double (from 0 when overwriting). */
static void add_signed_byte_scalar(uint8_t byte, double w, float *acc, int overwrite) {
  for (uint32_t k = 0; k < 8; k++) acc[k] = (float)(signed_base(acc, k, overwrite) + (((byte >> k) & 1u) ? w : -w));
}

#ifdef HAVE_AVX2_PATHS
/*
 * The same three loops with AVX2 intrinsics: lane j of the double accumulator is JavaScript's
 * partial sum s_j, a compare-and-blend gives ±scale exactly, and every add is the scalar
 * code's IEEE add in the same precision, so the bits do not change.
 */
__attribute__((target("avx2"))) static double add_and_sum_abs_avx2(float *e, const float *g, size_t a, size_t b) {
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d acc = _mm256_setzero_pd();
  size_t i = a;
  for (; i + 4 <= b; i += 4) {
    __m128 v = _mm_loadu_ps(e + i);
    if (g != NULL) {
      v = _mm_add_ps(v, _mm_loadu_ps(g + i));
      _mm_storeu_ps(e + i, v);
    }
    acc = _mm256_add_pd(acc, _mm256_andnot_pd(sign, _mm256_cvtps_pd(v)));
  }
  double s[4];
  _mm256_storeu_pd(s, acc);
  for (; i < b; i++) {
    float v = g != NULL ? e[i] + g[i] : e[i];
    if (g != NULL) e[i] = v;
    s[0] += fabs((double)v);
  }
  return s[0] + s[1] + s[2] + s[3];
}

__attribute__((target("avx2"))) static uint32_t sign_word_avx2(float *e, size_t i, float scale) {
  const __m256 zero = _mm256_setzero_ps(), pos = _mm256_set1_ps(scale), neg = _mm256_set1_ps(-scale);
  uint32_t w = 0;
  for (uint32_t k = 0; k < 32; k += 8) {
    __m256 v = _mm256_loadu_ps(e + i + k);
    __m256 ge = _mm256_cmp_ps(v, zero, _CMP_GE_OQ); /* false for NaN, as v >= 0 */
    _mm256_storeu_ps(e + i + k, _mm256_sub_ps(v, _mm256_blendv_ps(neg, pos, ge)));
    w |= (uint32_t)_mm256_movemask_ps(ge) << k;
  }
  return w;
}

__attribute__((target("avx2"))) static void add_signed_byte_avx2(uint8_t byte, double w, float *acc, int overwrite) {
  const __m256i lanes = _mm256_setr_epi64x(1, 2, 4, 8);
  const __m256d pos = _mm256_set1_pd(w), neg = _mm256_set1_pd(-w);
  for (uint32_t half = 0; half < 8; half += 4) {
    __m256i set = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x((byte >> half) & 0xf), lanes), lanes);
    __m256d base = overwrite ? _mm256_setzero_pd() : _mm256_cvtps_pd(_mm_loadu_ps(acc + half));
    __m256d sum = _mm256_add_pd(base, _mm256_blendv_pd(neg, pos, _mm256_castsi256_pd(set)));
    _mm_storeu_ps(acc + half, _mm256_cvtpd_ps(sum));
  }
}

static int use_avx2(void) {
  static int cached = -1;
  /* DAT_NATIVE_KERNELS_SCALAR=1: the scalar loops, so the tests cover them on an AVX2 machine. */
  if (cached < 0) cached = __builtin_cpu_supports("avx2") && getenv("DAT_NATIVE_KERNELS_SCALAR") == NULL ? 1 : 0;
  return cached;
}
#define PICK(name) (use_avx2() ? name##_avx2 : name##_scalar)
#else
#define PICK(name) name##_scalar
#endif

static double add_and_sum_abs(float *e, const float *g, size_t a, size_t b) { return PICK(add_and_sum_abs)(e, g, a, b); }

/* Step 2 for [a, b): sign bits (v >= 0) into `word` and the bit stream, residual v - ±scale into e; returns the open word. */
static uint32_t signs_and_residual(float *e, size_t a, size_t b, float scale, uint8_t *bits, uint32_t word) {
  uint32_t (*sign_word)(float *, size_t, float) = PICK(sign_word);
  size_t i = a;
  for (; i < b && (i & 31) != 0; i++) {
    float v = e[i];
    uint32_t bit = v >= 0;
    e[i] = v - (bit ? scale : -scale);
    word |= bit << (i & 31);
    if ((i & 31) == 31) { store_u32_le(bits + 4 * (i >> 5), word); word = 0; }
  }
  for (; i + 32 <= b; i += 32) store_u32_le(bits + 4 * (i >> 5), sign_word(e, i, scale));
  for (; i < b; i++) {
    float v = e[i];
    uint32_t bit = v >= 0;
    e[i] = v - (bit ? scale : -scale);
    word |= bit << (i & 31);
  }
  return word;
}

/* Reads a Float64Array of piece lengths that must sum to n. */
static int pieces_arg(napi_env env, napi_value v, size_t n, view_t *out) {
  if (!typed_array(env, v, napi_float64_array, out)) return 0;
  const double *p = out->data;
  double total = 0;
  for (size_t q = 0; q < out->length; q++) {
    if (!(p[q] >= 0) || p[q] != floor(p[q])) return 0;
    total += p[q];
  }
  return total == (double)n;
}

/* signEfEncode(e, g: Float32Array | null, pieces: Float64Array, out: Uint8Array): compressPiecesWithFeedback into `out`. */
static napi_value sign_ef_encode(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  view_t e, g, pieces, out;
  napi_valuetype gt;
  if (args(env, info, argv, 4) < 4 || !typed_array(env, argv[0], napi_float32_array, &e) || napi_typeof(env, argv[1], &gt) != napi_ok
      || (gt != napi_null && !typed_array(env, argv[1], napi_float32_array, &g)) || !typed_array(env, argv[3], napi_uint8_array, &out))
    THROW(env, type, "signEfEncode(e: Float32Array, g: Float32Array | null, pieces: Float64Array, out: Uint8Array)");
  size_t n = e.length;
  if (!pieces_arg(env, argv[2], n, &pieces)) THROW(env, range, "signEfEncode: pieces must be whole lengths summing to e.length");
  if ((gt != napi_null && g.length != n) || out.length != 4 * pieces.length + (n + 7) / 8) THROW(env, range, "signEfEncode: wrong sizes");
  float *x = e.data;
  const float *gp = gt == napi_null ? NULL : g.data;
  uint8_t *o = out.data, *bits = o + 4 * pieces.length;
  const double *len = pieces.data;
  size_t at = 0;
  uint32_t word = 0;
  for (size_t q = 0; q < pieces.length; q++) {
    size_t end = at + (size_t)len[q];
    double sum = add_and_sum_abs(x, gp, at, end);
    float scale = end == at ? 0.0f : (float)(sum / (double)(end - at));
    store_f32_le(o + 4 * q, scale);
    word = signs_and_residual(x, at, end, scale, bits, word);
    at = end;
  }
  for (size_t j = 4 * (n >> 5); j < (n + 7) / 8; j++) bits[j] = (uint8_t)(word >> (8 * (j & 3)));
  return NULL;
}

/* acc[i] += ±w over [a, b) of the bit stream, in double as JavaScript adds; with `overwrite`, acc[i] = 0 + ±w (acc is not read: no zeroing pass first). */
static void add_signed(const uint8_t *bits, size_t a, size_t b, double w, float *acc, int overwrite) {
  void (*add_byte)(uint8_t, double, float *, int) = PICK(add_signed_byte);
  size_t i = a;
  for (; i < b && ((i & 7) != 0 || i + 8 > b); i++) acc[i] = (float)(signed_base(acc, i, overwrite) + (((bits[i >> 3] >> (i & 7)) & 1u) ? w : -w));
  for (; i + 8 <= b; i += 8) add_byte(bits[i >> 3], w, acc + i, overwrite);
  for (; i < b; i++) acc[i] = (float)(signed_base(acc, i, overwrite) + (((bits[i >> 3] >> (i & 7)) & 1u) ? w : -w));
}

/* signEfAddDecoded / signEfDecode(block: Uint8Array, pieces: Float64Array, divisor: number, acc: Float32Array): addDecodedPieces, decodePieces. */
static napi_value sign_ef_decode_with(napi_env env, napi_callback_info info, int overwrite) {
  napi_value argv[4];
  view_t block, pieces, acc;
  double divisor;
  if (args(env, info, argv, 4) < 4 || !typed_array(env, argv[0], napi_uint8_array, &block) || !number_arg(env, argv[2], &divisor)
      || !typed_array(env, argv[3], napi_float32_array, &acc))
    THROW(env, type, "signEfAddDecoded / signEfDecode(block: Uint8Array, pieces: Float64Array, divisor: number, acc: Float32Array)");
  size_t n = acc.length;
  if (!pieces_arg(env, argv[1], n, &pieces)) THROW(env, range, "signEfAddDecoded / signEfDecode: pieces must be whole lengths summing to acc.length");
  if (block.length != 4 * pieces.length + (n + 7) / 8) THROW(env, range, "signEfAddDecoded / signEfDecode: wrong block size");
  const uint8_t *blk = block.data, *bits = blk + 4 * pieces.length;
  const double *len = pieces.data;
  size_t at = 0;
  for (size_t q = 0; q < pieces.length; q++) {
    uint32_t u = (uint32_t)blk[4 * q] | ((uint32_t)blk[4 * q + 1] << 8) | ((uint32_t)blk[4 * q + 2] << 16) | ((uint32_t)blk[4 * q + 3] << 24);
    float scale;
    memcpy(&scale, &u, 4);
    add_signed(bits, at, at + (size_t)len[q], (double)scale / divisor, acc.data, overwrite);
    at += (size_t)len[q];
  }
  return NULL;
}

static napi_value sign_ef_add_decoded(napi_env env, napi_callback_info info) { return sign_ef_decode_with(env, info, 0); }
static napi_value sign_ef_decode(napi_env env, napi_callback_info info) { return sign_ef_decode_with(env, info, 1); }

/* ---------------------------------------------------------------- ring sums (reduce-kernels.ts) */

static inline uint32_t non_finite(float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return (b & 0x7f800000u) == 0x7f800000u;
}

/* Whether any value is NaN or ±Inf: an OR over lanes, no branch per element. */
HOT static uint32_t any_non_finite(const float *a, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= non_finite(a[i]);
  return bad;
}

/* dst[i] = x[i] + y[i] in float32 (IEEE single add: what Math.fround of the double sum gives); dst may be x. */
HOT static uint32_t sum_into(float *dst, const float *x, const float *y, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    float v = x[i] + y[i];
    dst[i] = v;
    bad |= non_finite(v);
  }
  return bad;
}

static napi_value first_index(napi_env env, const float *a, size_t n, uint32_t bad) {
  napi_value ret;
  double index = -1;
  if (bad) for (size_t i = 0; i < n; i++) if (non_finite(a[i])) { index = (double)i; break; }
  napi_create_double(env, index, &ret);
  return ret;
}

/* firstNonFinite(a: Float32Array) -> index of the first NaN or ±Inf, or -1. */
static napi_value first_non_finite(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  view_t a;
  if (args(env, info, argv, 1) < 1 || !typed_array(env, argv[0], napi_float32_array, &a)) THROW(env, type, "firstNonFinite(a: Float32Array)");
  return first_index(env, a.data, a.length, any_non_finite(a.data, a.length));
}

/* sumIntoChecked(dst, x, y) -> index of the first non-finite sum, or -1; x and y hold at least dst.length values. */
static napi_value sum_into_checked(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  view_t dst, x, y;
  if (args(env, info, argv, 3) < 3 || !typed_array(env, argv[0], napi_float32_array, &dst) || !typed_array(env, argv[1], napi_float32_array, &x)
      || !typed_array(env, argv[2], napi_float32_array, &y))
    THROW(env, type, "sumIntoChecked(dst: Float32Array, x: Float32Array, y: Float32Array)");
  if (x.length < dst.length || y.length < dst.length) THROW(env, range, "sumIntoChecked: a source is shorter than the destination");
  return first_index(env, dst.data, dst.length, sum_into(dst.data, x.data, y.data, dst.length));
}

/* ---------------------------------------------------------------- module */

static napi_value init(napi_env env, napi_value exports) {
  init_half_table();
  napi_property_descriptor props[] = {
    {"encodeHalf", NULL, encode_half, NULL, NULL, NULL, napi_enumerable, NULL},
    {"decodeHalf", NULL, decode_half, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
    {"quantizeSegment", NULL, quantize_segment, NULL, NULL, NULL, napi_enumerable, NULL},
    {"addCodes", NULL, add_codes, NULL, NULL, NULL, napi_enumerable, NULL},
    {"firstNonFinite", NULL, first_non_finite, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sumIntoChecked", NULL, sum_into_checked, NULL, NULL, NULL, napi_enumerable, NULL},
    {"signEfEncode", NULL, sign_ef_encode, NULL, NULL, NULL, napi_enumerable, NULL},
    {"signEfAddDecoded", NULL, sign_ef_add_decoded, NULL, NULL, NULL, napi_enumerable, NULL},
    {"signEfDecode", NULL, sign_ef_decode, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
