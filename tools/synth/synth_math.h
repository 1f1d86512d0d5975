/* Internal to fm_synth: a seeded random generator and elementary functions that give the same
 * bits on every IEEE-754 machine (no libm, whose last-bit results differ between versions and
 * platforms). Accuracy ~1e-15 relative, far more than a signal generator needs.
 * Not for: anything outside tools/synth. */
#ifndef FM_SYNTH_MATH_H
#define FM_SYNTH_MATH_H

#include <math.h>
#include <stdint.h>

/* ---- xoshiro256** seeded by splitmix64 (Blackman & Vigna) ---- */
typedef struct sy_rng {
    uint64_t s[4];
} sy_rng;

static inline uint64_t sy_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Each (seed, stream) pair gives an independent generator, so adding a random draw to one
 * component never shifts the numbers of another. */
static inline void sy_rng_seed(sy_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = sy_splitmix64(&x);
}

static inline uint64_t sy_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sy_next(sy_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sy_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sy_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sy_u01(sy_rng *r)
{
    return (double)(sy_next(r) >> 11) * 0x1.0p-53;
}

/* Fast near-Gaussian (sum of four 16-bit uniforms, unit variance, bounded at +-3.46): used per
 * audio sample, where it is filtered into band-limited noise and becomes Gaussian anyway. */
static inline double sy_gauss4(sy_rng *r)
{
    uint64_t x = sy_next(r);
    double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) +
               (double)(x >> 48);
    return (s - 131070.0) * (1.0 / (65536.0 * 0.57735026918962576));
}

/* Two independent zero-mean unit-variance values (each the sum of two 16-bit uniforms: a
 * triangular density) from one draw: the I and Q inputs of a narrow-band voice, whose low-pass
 * makes them Gaussian. */
static inline void sy_pair2(sy_rng *r, double *a, double *b)
{
    uint64_t x = sy_next(r);
    const double k = 1.0 / (65536.0 * 0.40824829046386302); /* 1 / sqrt(2 * 65536^2 / 12) */
    *a = ((double)(x & 0xffff) + (double)((x >> 16) & 0xffff) - 65535.0) * k;
    *b = ((double)((x >> 32) & 0xffff) + (double)(x >> 48) - 65535.0) * k;
}

/* ---- deterministic elementary functions ---- */
#define SY_LN2_HI 6.93147180369123816490e-01
#define SY_LN2_LO 1.90821492927058770002e-10
#define SY_LN10 2.30258509299404568402
#define SY_PI 3.14159265358979323846
#define SY_PIO2_HI 1.57079632673412561417e+00
#define SY_PIO2_LO 6.07710050650619224932e-11

/* 1/n! for n = 0..18 (literals: the compiler rounds them the same way everywhere) */
static const double sy_inv_fact[19] = {
    1.0,
    1.0,
    0.5,
    0.16666666666666666,
    0.041666666666666664,
    0.008333333333333333,
    0.001388888888888889,
    0.0001984126984126984,
    2.48015873015873e-05,
    2.7557319223985893e-06,
    2.755731922398589e-07,
    2.505210838544172e-08,
    2.08767569878681e-09,
    1.6059043836821613e-10,
    1.1470745597729725e-11,
    7.647163731819816e-13,
    4.779477332387385e-14,
    2.8114572543455206e-15,
    1.5619206968586225e-16,
};

static inline double sy_exp(double x)
{
    if (x > 700.0)
        x = 700.0;
    if (x < -700.0)
        return 0.0;
    double k = floor(x * 1.44269504088896340736 + 0.5);
    double r = (x - k * SY_LN2_HI) - k * SY_LN2_LO;
    double p = sy_inv_fact[14];
    for (int i = 13; i >= 0; i--) /* Taylor to r^14, |r| <= 0.347: < 1e-17 */
        p = p * r + sy_inv_fact[i];
    /* times 2^k built from its bits (|k| <= 1010 here): exact, and cheaper than ldexp */
    union {
        uint64_t u;
        double d;
    } two_k = {.u = (uint64_t)((int64_t)k + 1023) << 52};
    return p * two_k.d;
}

static inline double sy_log(double x)
{
    if (!(x > 0.0))
        return -INFINITY;
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e--;
    }
    double f = (m - 1.0) / (m + 1.0), f2 = f * f, p = 0.0;
    for (int i = 23; i >= 1; i -= 2)
        p = p * f2 + 1.0 / i;
    return 2.0 * f * p + e * SY_LN2_HI + e * SY_LN2_LO;
}

/* sin and cos together; fine for |x| up to ~1e6. */
static inline void sy_sincos(double x, double *sn, double *cs)
{
    double k = floor(x * 0.63661977236758134308 + 0.5);
    double r = (x - k * SY_PIO2_HI) - k * SY_PIO2_LO, r2 = r * r;
    /* Taylor series to r^17 / r^18: |r| <= pi/4 gives < 1e-17 truncation */
    double s = sy_inv_fact[17], c = -sy_inv_fact[18];
    for (int i = 15; i >= 1; i -= 2)
        s = s * r2 + ((i >> 1) & 1 ? -sy_inv_fact[i] : sy_inv_fact[i]);
    s *= r;
    for (int i = 16; i >= 0; i -= 2)
        c = c * r2 + ((i >> 1) & 1 ? -sy_inv_fact[i] : sy_inv_fact[i]);
    switch (((long long)k) & 3) {
    case 0:
        *sn = s;
        *cs = c;
        break;
    case 1:
        *sn = c;
        *cs = -s;
        break;
    case 2:
        *sn = -s;
        *cs = -c;
        break;
    default:
        *sn = -c;
        *cs = s;
        break;
    }
}

/* Standard normal (Box-Muller, one value per call), for per-beat and per-event draws. */
static inline double sy_gauss(sy_rng *r)
{
    double u1 = sy_u01(r), u2 = sy_u01(r), s, c;
    if (u1 < 1e-300)
        u1 = 1e-300;
    sy_sincos(2.0 * SY_PI * u2, &s, &c);
    return sqrt(-2.0 * sy_log(u1)) * c;
}

/* Amplitude ratio of a power level in dB. */
static inline double sy_db_amp(double db)
{
    return sy_exp(db * (SY_LN10 / 20.0));
}

#endif
