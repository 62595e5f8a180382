// Integer GEMM C = A W^T (+ C) with W kept quantized (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K from GGUF):
// W is repacked once into panels of its integer form (simd/quant/blocks.hpp), A is quantized per
// row and block to int8 for every product (as llama.cpp quantizes activations: Q8_0-style
// blocks of 32 for Q8_0 / Q4_0 weights, Q8_K-style blocks of 256 for the K-quants), and the
// block dot products are exact integer sums (vpdpbusd on avx512_vnni / avx2_vnni archs, a plain
// loop otherwise) combined in float in one fixed order. qgemm_reference computes the same
// numbers from the unpacked integer form with scalar code: every arch must equal it bit for bit.
//
// Integer form of a weight sub-block s of column j (blocks.hpp): w = sw * q (symmetric) or
// sw * q - mw (affine). Packed as unsigned bytes u = q + o (o = 128 Q8_0, 8 Q4_0, 32 Q6_K, 0 for
// the affine Q4_K / Q5_K), so vpdpbusd's unsigned operand is the weight and its signed operand
// the activation. With a the int8 activations of the sub-block, B = sum a, da the activation
// block's scale:
//   S   = sum u a - o B                         (exact int32; the kernel starts its sum at -o B)
//   Q8_0 / Q4_0 (activation block = sub-block = 32):   acc = fma(float(S), sw * da, acc)
//   K-quants (activation block 256 = the super-block):  t = fma(float(S), sw, t)
//                                                       t = fma(-mw, float(B), t)   (affine)
//                                                       and per super-block acc = fma(t, da, acc)
//   C = acc (+ C).
// Activation quantization (llama.cpp quantize_row_q8_0 / q8_K): d = max|x| / 127 over the block,
// a = round-half-away(x / d) (x * (1/d)), d = 0 gives a = 0.
//
// Packed layout, per panel of NR output columns (zero-padded past n), per sub-block s and k-group
// g of 4 consecutive k:
//   Q8_0: u8 q[s][g][NR][4], one u per byte;
//   types of b = 4, 5, 6 bits (Q4_0, Q4_K, Q5_K: sub-blocks of 32, 8 k-groups; Q6_K: 16, 4), per
//     sub-block of G k-groups: nibbles u8 lo[G / 2][NR][4], the low nibble of a byte holding the
//     low 4 bits of u of k-group h, the high nibble those of k-group h + G / 2 (a kernel splits one
//     load with an AND and a shift); then for b > 4 the bits above 4, u8 hi[NR][4], k-group g's
//     at bits [(b - 4) g, (b - 4) (g + 1)) of the byte (one more load per sub-block, a shift, an
//     AND and an OR per k-group);
//   scales, Q8_0 / Q4_0: f16 sw[s][NR] (the block's d as stored);
//   K-quants (Q4_K, Q5_K, Q6_K): as the super-block stores them, f16 d[b][NR] per super-block b
//     (and f16 dmin[b][NR], affine types) with int8 sc[s][NR] (and mn[s][NR]) per sub-block; the
//     kernels form sw = float(d) * float(sc) and mw = float(dmin) * float(mn), decode_block's very
//     products (the f16 -> f32 conversion is exact).
// So a weight costs its bits plus its scales: Q4_0 0.5625 bytes and Q8_0 1.0625 (the file's),
// Q4_K 0.578 (0.5625), Q5_K 0.703 (0.6875), Q6_K 0.820 (0.8203); docs/gguf.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/thread_pool.hpp"
#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/gemm/driver.hpp"
#include "ddiff/simd/quant/blocks.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ddiff::simd::quant {

// How a weight type is multiplied.
struct qformat {
    ggml_type type = ggml_type::q8_0;
    std::size_t sub = 32;      // k per sub-block (one scale)
    std::size_t act = 32;      // k per activation block (one activation scale)
    int offset = 128;          // u = q + offset
    bool affine = false;       // has mins
    int bits = 8;              // 4, 5, 6: the header's nibble layout (+ high bits)
    bool kscale = false;       // K-quant: scales as int8 per sub-block x float per super-block
};

constexpr qformat format_of(ggml_type t) noexcept {
    switch (t) {
        case ggml_type::q8_0: return {t, 32, 32, 128, false, 8, false};
        case ggml_type::q4_0: return {t, 32, 32, 8, false, 4, false};
        case ggml_type::q4_k: return {t, 32, 256, 0, true, 4, true};
        case ggml_type::q5_k: return {t, 32, 256, 0, true, 5, true};
        case ggml_type::q6_k: return {t, 16, 256, 32, false, 6, true};
        default: return {t, 0, 0, 0, false, 8, false};
    }
}

// Panel width and row tile per arch.
template <class Arch>
struct qgemm_config {
    static constexpr std::size_t nr = has_avx512_vnni<Arch> ? 16 : 8;
    static constexpr std::size_t mr = has_avx512_vnni<Arch> ? 8 : 4;
    static constexpr std::size_t mc = 96;  // rows per work unit
};

// A non-owning view of packed quantized weights (the header's layout).
struct qpanel_view {
    qformat fmt;
    std::size_t n = 0, k = 0, nr = 0;
    const std::uint8_t* q = nullptr;   // panels of panel_bytes()
    const std::uint16_t* sw = nullptr; // Q8_0 / Q4_0: panels of subs() * nr f16 scales
    const std::uint16_t* d = nullptr;  // K-quants: panels of scale_blocks() * nr f16 d
    const std::uint16_t* dm = nullptr; // K-quant affine types: dmin, as d
    const std::int8_t* ss = nullptr;   // K-quants: panels of subs() * nr int8 sub-block scales
    const std::int8_t* ms = nullptr;   // K-quant affine types: the sub-block mins, as ss
    std::size_t panels() const noexcept { return (n + nr - 1) / nr; }
    std::size_t subs() const noexcept { return k / fmt.sub; }
    std::size_t panel_bytes() const noexcept { return k * nr * std::size_t(fmt.bits) / 8; }
    std::size_t scale_blocks() const noexcept { return fmt.kscale ? k / qk_k : subs(); }
    // Where the u of (kk, lane) is in a panel: 8-bit types, the byte lo; else its low 4 bits at
    // bit lo_shift of byte lo and (5 and 6 bits) the rest at bit hi_shift of byte hi.
    struct slot {
        std::size_t lo;
        int lo_shift;
        std::size_t hi;
        int hi_shift;
    };
    slot slot_of(std::size_t kk, std::size_t lane) const noexcept {
        if (fmt.bits == 8) return {(kk / 4) * nr * 4 + lane * 4 + kk % 4, 0, 0, 0};
        const std::size_t s = kk / fmt.sub, g = (kk % fmt.sub) / 4, half = fmt.sub / 8;
        const std::size_t base = s * fmt.sub * nr * std::size_t(fmt.bits) / 8, cell = lane * 4 + kk % 4;
        return {base + (g % half) * nr * 4 + cell, g >= half ? 4 : 0, base + fmt.sub * nr / 2 + cell,
                int(g) * (fmt.bits - 4)};
    }
    unsigned u_at(std::size_t p, std::size_t kk, std::size_t lane) const noexcept {
        const slot t = slot_of(kk, lane);
        const std::uint8_t* b = q + p * panel_bytes();
        if (fmt.bits == 8) return b[t.lo];
        unsigned u = (b[t.lo] >> t.lo_shift) & 0xFu;
        if (fmt.bits > 4) u |= ((b[t.hi] >> t.hi_shift) & ((1u << (fmt.bits - 4)) - 1)) << 4;
        return u;
    }
    // Sub-block s's scale and min of column lane of panel p (decode_block's floats).
    float sw_at(std::size_t p, std::size_t s, std::size_t lane) const noexcept {
        if (!fmt.kscale) return to_float(f16{sw[p * subs() * nr + s * nr + lane]});
        const std::size_t b = s * fmt.sub / qk_k;
        return to_float(f16{d[(p * scale_blocks() + b) * nr + lane]}) * float(ss[(p * subs() + s) * nr + lane]);
    }
    float mw_at(std::size_t p, std::size_t s, std::size_t lane) const noexcept {
        const std::size_t b = s * fmt.sub / qk_k;
        return to_float(f16{dm[(p * scale_blocks() + b) * nr + lane]}) * float(ms[(p * subs() + s) * nr + lane]);
    }
};

// Owning packed quantized weights, made once at load time from the rows of a GGUF tensor.
template <class Arch = default_arch>
class qpacked_weights {
public:
    qpacked_weights() = default;

    // row(r) -> the stored bytes of row r (k / block whole blocks of type t), r < n. Rows are
    // decoded (decode_block) and repacked; nothing is dequantized.
    template <class RowFn>
    static qpacked_weights from_rows(ggml_type t, RowFn&& row, std::size_t n, std::size_t k) {
        const qformat f = format_of(t);
        if (f.sub == 0)
            ddiff::detail::fail<invalid_argument>("qpacked_weights: type ", traits(std::uint32_t(t))->name,
                                                  " has no integer GEMM, expected Q8_0, Q4_0, Q4_K, Q5_K or Q6_K");
        const auto g = geometry(t);
        const auto tr = *traits(std::uint32_t(t));
        ddiff::detail::require(n > 0, "qpacked_weights", "n (output features)", n, "> 0");
        if (k == 0 || k % g.block != 0)
            ddiff::detail::fail<shape_error>("qpacked_weights: k = ", k, " is not a positive multiple of ", tr.name,
                                             "'s block of ", g.block);
        constexpr std::size_t NR = qgemm_config<Arch>::nr;
        qpacked_weights p;
        p.fmt_ = f;
        p.n_ = n;
        p.k_ = k;
        const qpanel_view shape{f, n, k, NR};
        const std::size_t panels = shape.panels(), subs = shape.subs(), blocks = shape.scale_blocks();
        const std::size_t pbytes = shape.panel_bytes();
        p.q_.reset(static_cast<std::uint8_t*>(::operator new(panels * pbytes, std::align_val_t{64})));
        if (f.kscale) {
            p.d_.assign(panels * blocks * NR, 0);
            if (f.affine) p.dm_.assign(panels * blocks * NR, 0);
            p.ss_.assign(panels * subs * NR, 0);
            if (f.affine) p.ms_.assign(panels * subs * NR, 0);
        } else {
            p.sw_.assign(panels * subs * NR, 0);
        }
        // Padding columns: scale 0 (so they add 0 whatever their u); 8-bit u = offset (q = 0).
        std::memset(p.q_.get(), f.bits == 8 ? f.offset : 0, panels * pbytes);
        std::int8_t q[qk_k], ks[qk_k / 16] = {}, km[qk_k / 16] = {};
        float sc[qk_k / 16], mn[qk_k / 16];
        for (std::size_t j = 0; j < n; ++j) {
            const std::byte* src = row(j);
            const std::size_t pj = j / NR, lane = j % NR;
            std::uint8_t* qp = p.q_.get() + pj * pbytes;
            for (std::size_t b0 = 0; b0 < k; b0 += g.block, src += tr.bytes) {
                decode_block(t, src, q, sc, mn);
                for (std::size_t e = 0; e < g.block; ++e) {
                    const auto t = shape.slot_of(b0 + e, lane);
                    const unsigned u = static_cast<std::uint8_t>(q[e] + f.offset);
                    if (f.bits == 8) {
                        qp[t.lo] = static_cast<std::uint8_t>(u);
                        continue;
                    }
                    qp[t.lo] = static_cast<std::uint8_t>((qp[t.lo] & ~(0xFu << t.lo_shift)) | (u & 0xFu) << t.lo_shift);
                    if (f.bits > 4) {
                        const unsigned hm = (1u << (f.bits - 4)) - 1;
                        qp[t.hi] = static_cast<std::uint8_t>((qp[t.hi] & ~(hm << t.hi_shift)) | (u >> 4 & hm) << t.hi_shift);
                    }
                }
                std::uint16_t d, dmin;
                decode_scale_parts(t, src, d, dmin, ks, km);
                if (f.kscale) {
                    const std::size_t bi = (pj * blocks + b0 / qk_k) * NR + lane;
                    p.d_[bi] = d;
                    if (f.affine) p.dm_[bi] = dmin;
                    for (std::size_t s = 0; s < g.block / f.sub; ++s) {
                        const std::size_t si = (pj * subs + b0 / f.sub + s) * NR + lane;
                        p.ss_[si] = ks[s];
                        if (f.affine) p.ms_[si] = km[s];
                    }
                } else {  // Q8_0 / Q4_0: one sub-block, scale d
                    p.sw_[(pj * subs + b0 / f.sub) * NR + lane] = d;
                }
            }
        }
        return p;
    }

    qpanel_view view() const noexcept {
        return {fmt_,
                n_,
                k_,
                qgemm_config<Arch>::nr,
                q_.get(),
                fmt_.kscale ? nullptr : sw_.data(),
                fmt_.kscale ? d_.data() : nullptr,
                fmt_.kscale && fmt_.affine ? dm_.data() : nullptr,
                fmt_.kscale ? ss_.data() : nullptr,
                fmt_.kscale && fmt_.affine ? ms_.data() : nullptr};
    }
    std::size_t rows() const noexcept { return n_; }
    std::size_t cols() const noexcept { return k_; }
    ggml_type type() const noexcept { return fmt_.type; }
    std::size_t bytes() const noexcept {
        const auto v = view();
        return v.panels() * v.panel_bytes() + (sw_.size() + d_.size() + dm_.size()) * 2 + ss_.size() + ms_.size();
    }

private:
    struct aligned_free {
        void operator()(std::uint8_t* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    qformat fmt_;
    std::size_t n_ = 0, k_ = 0;
    std::unique_ptr<std::uint8_t, aligned_free> q_;
    std::vector<std::uint16_t> sw_, d_, dm_;
    std::vector<std::int8_t> ss_, ms_;
};

// ---- activations ---------------------------------------------------------------------------

// Quantized activation rows: a (m, k) int8, da (m, k / act) scales, aux (m, k / sub): -o B as
// int32 for symmetric formats, float(B) bits for affine ones.
struct qactivations {
    std::size_t m = 0, k = 0;
    qformat fmt;
    std::int8_t* a = nullptr;
    float* da = nullptr;
    std::int32_t* aux = nullptr;

    static std::size_t bytes(std::size_t m, std::size_t k, const qformat& f) noexcept {
        return m * k + m * (k / f.act) * 4 + m * (k / f.sub) * 4 + 128;
    }
};

// ggml's roundf (half away from zero) as the reference quantizers use it.
inline int round_away(float x) noexcept { return static_cast<int>(std::round(x)); }

// Rows [r0, r1) of x (stride ldx) into q.
inline void quantize_activation_rows(const float* x, std::size_t ldx, std::size_t r0, std::size_t r1,
                                     const qactivations& q) noexcept {
    const auto& f = q.fmt;
    const std::size_t nb = q.k / f.act, ns = q.k / f.sub;
    for (std::size_t i = r0; i < r1; ++i) {
        const float* xi = x + i * ldx;
        std::int8_t* ai = q.a + i * q.k;
        for (std::size_t b = 0; b < nb; ++b) {
            float amax = 0.0f;
            for (std::size_t e = 0; e < f.act; ++e) amax = std::max(amax, std::abs(xi[b * f.act + e]));
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (std::size_t e = 0; e < f.act; ++e)
                ai[b * f.act + e] = static_cast<std::int8_t>(std::clamp(round_away(xi[b * f.act + e] * id), -127, 127));
            q.da[i * nb + b] = d;
        }
        for (std::size_t s = 0; s < ns; ++s) {
            std::int32_t B = 0;
            for (std::size_t e = 0; e < f.sub; ++e) B += ai[s * f.sub + e];
            if (f.affine) {
                const float bf = static_cast<float>(B);
                std::memcpy(&q.aux[i * ns + s], &bf, 4);
            } else {
                q.aux[i * ns + s] = -f.offset * B;
            }
        }
    }
}

// ---- the exact-integer scalar reference ----------------------------------------------------

// C = A W^T (+ C) from the integer form of W (rows of stored GGUF bytes, row(j) for j < n) and
// the quantized activations; the float combination in the order of the header comment.
template <class RowFn>
void qgemm_reference(ggml_type t, RowFn&& row, std::size_t n, const qactivations& qa, float* c, std::size_t ldc,
                     bool accumulate) {
    const qformat f = format_of(t);
    const auto g = geometry(t);
    const auto tr = *traits(std::uint32_t(t));
    const std::size_t k = qa.k, ns = k / f.sub, nb = k / f.act;
    std::vector<std::int8_t> q(k);
    std::vector<float> sw(ns), mw(ns);
    std::int8_t qb[qk_k];
    float sc[qk_k / 16], mn[qk_k / 16];
    for (std::size_t j = 0; j < n; ++j) {
        const std::byte* src = row(j);
        for (std::size_t b0 = 0; b0 < k; b0 += g.block, src += tr.bytes) {
            decode_block(t, src, qb, sc, mn);
            std::copy_n(qb, g.block, q.begin() + std::ptrdiff_t(b0));
            for (std::size_t s = 0; s < g.block / f.sub; ++s) {
                sw[b0 / f.sub + s] = sc[s];
                mw[b0 / f.sub + s] = f.affine ? mn[s] : 0.0f;
            }
        }
        for (std::size_t i = 0; i < qa.m; ++i) {
            const std::int8_t* a = qa.a + i * k;
            float acc = 0.0f, t_sb = 0.0f;
            for (std::size_t s = 0; s < ns; ++s) {
                std::int32_t S = f.affine ? 0 : qa.aux[i * ns + s];
                for (std::size_t e = 0; e < f.sub; ++e) {
                    const std::size_t kk = s * f.sub + e;
                    S += std::int32_t(std::uint8_t(q[kk] + f.offset)) * std::int32_t(a[kk]);
                }
                const float fs = static_cast<float>(S);
                if (f.act == f.sub) {
                    acc = std::fma(fs, sw[s] * qa.da[i * nb + s], acc);
                } else {
                    t_sb = std::fma(fs, sw[s], t_sb);
                    if (f.affine) {
                        float bf;
                        std::memcpy(&bf, &qa.aux[i * ns + s], 4);
                        t_sb = std::fma(-mw[s], bf, t_sb);
                    }
                    if ((s + 1) * f.sub % f.act == 0) {
                        acc = std::fma(t_sb, qa.da[i * nb + (s * f.sub) / f.act], acc);
                        t_sb = 0.0f;
                    }
                }
            }
            float& out = c[i * ldc + j];
            out = accumulate ? out + acc : acc;
        }
    }
}

// ---- kernels -------------------------------------------------------------------------------

namespace kernel {

// The plain kernel (archs without VNNI): the same integer sums and float order as the reference.
template <class Arch>
void qtile_plain(const qpanel_view& w, std::size_t p, const qactivations& qa, std::size_t i0, std::size_t mr,
                 float* c, std::size_t ldc, std::size_t nr, bool accumulate) noexcept {
    const auto& f = w.fmt;
    const std::size_t k = w.k, ns = w.subs(), nb = k / f.act;
    for (std::size_t i = 0; i < mr; ++i) {
        const std::size_t row = i0 + i;
        const std::int8_t* a = qa.a + row * k;
        for (std::size_t j = 0; j < nr; ++j) {
            float acc = 0.0f, t_sb = 0.0f;
            for (std::size_t s = 0; s < ns; ++s) {
                std::int32_t S = f.affine ? 0 : qa.aux[row * ns + s];
                for (std::size_t kk = s * f.sub; kk < (s + 1) * f.sub; ++kk)
                    S += std::int32_t(w.u_at(p, kk, j)) * std::int32_t(a[kk]);
                const float fs = static_cast<float>(S);
                if (f.act == f.sub) {
                    acc = std::fma(fs, w.sw_at(p, s, j) * qa.da[row * nb + s], acc);
                } else {
                    t_sb = std::fma(fs, w.sw_at(p, s, j), t_sb);
                    if (f.affine) {
                        float bf;
                        std::memcpy(&bf, &qa.aux[row * ns + s], 4);
                        t_sb = std::fma(-w.mw_at(p, s, j), bf, t_sb);
                    }
                    if ((s + 1) * f.sub % f.act == 0) {
                        acc = std::fma(t_sb, qa.da[row * nb + (s * f.sub) / f.act], acc);
                        t_sb = 0.0f;
                    }
                }
            }
            float& out = c[i * ldc + j];
            out = accumulate ? out + acc : acc;
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
// What a VNNI tile of panel p and rows [i0, i0 + MR) reads: the panel's quants and scale arrays
// (null where the type has none) and each row's activations, sums and scales (rows past mr
// repeat the last one).
template <std::size_t MR>
struct tile_inputs {
    const std::uint8_t* q;
    const std::uint16_t *sw, *d, *dm;
    const std::int8_t *ss, *ms;
    const std::int8_t* a[MR];
    const std::int32_t* aux[MR];
    const float* da[MR];
    tile_inputs(const qpanel_view& w, std::size_t p, const qactivations& qa, std::size_t i0, std::size_t mr) noexcept {
        const std::size_t ns = w.subs(), nb = w.scale_blocks(), na = w.k / w.fmt.act;
        q = w.q + p * w.panel_bytes();
        sw = w.sw ? w.sw + p * ns * w.nr : nullptr;
        d = w.d ? w.d + p * nb * w.nr : nullptr;
        dm = w.dm ? w.dm + p * nb * w.nr : nullptr;
        ss = w.ss ? w.ss + p * ns * w.nr : nullptr;
        ms = w.ms ? w.ms + p * ns * w.nr : nullptr;
        for (std::size_t i = 0; i < MR; ++i) {
            const std::size_t row = i0 + std::min(i, mr - 1);
            a[i] = qa.a + row * w.k;
            aux[i] = qa.aux + row * ns;
            da[i] = qa.da + row * na;
        }
    }
};

// AVX512-VNNI: NR = 16 columns (one zmm), MR rows; per k-group one weight vector and one
// vpdpbusd per row with the activation's 4 bytes broadcast from memory. SUB (k per sub-block),
// AFFINE, PER_SUB (activation block = sub-block), BITS (8; or 4, 5, 6: one nibble load gives
// k-groups h and h + G / 2, split by AND and shift, and the bits above 4 come from one more load
// per sub-block) and KSCALE (sw = d * float(sc), the K-quants) are compile-time so the k-group
// loop unrolls.
template <std::size_t MR, std::size_t SUB, bool AFFINE, bool PER_SUB, int BITS, bool KSCALE>
DDIFF_TARGET_AVX512_VNNI void qtile_avx512(const qpanel_view& w, std::size_t p, const qactivations& qa, std::size_t i0,
                                           float* c, std::size_t ldc, std::size_t mr, std::size_t nr,
                                           bool accumulate) noexcept {
    constexpr std::size_t NR = 16, groups = SUB / 4;
    static_assert(BITS == 8 || (groups % 2 == 0 && (BITS - 4) * groups <= 8), "the packed layout of the header");
    const std::size_t ns = w.subs(), subs_per_act = w.fmt.act / SUB;
    const tile_inputs<MR> in(w, p, qa, i0, mr);
    // float(d) * float(sc) of sub-block s (KSCALE: d f16 per super-block, sc int8).
    auto kscale = [&](const std::uint16_t* hp, const std::int8_t* sp, std::size_t s) {
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hp + (s * SUB / qk_k) * NR)));
        const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sp + s * NR));
        return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
    };
    __m512 acc[MR], tsb[MR];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) acc[i] = tsb[i] = _mm512_setzero_ps();
    for (std::size_t s = 0; s < ns; ++s) {
        __m512i S[MR];
#pragma GCC unroll 16
        for (std::size_t i = 0; i < MR; ++i) S[i] = AFFINE ? _mm512_setzero_si512() : _mm512_set1_epi32(in.aux[i][s]);
        const std::size_t k0 = s * SUB;
        auto dot = [&](__m512i wv, std::size_t g) {
#pragma GCC unroll 16
            for (std::size_t i = 0; i < MR; ++i) {
                std::int32_t a4;
                std::memcpy(&a4, in.a[i] + k0 + g * 4, 4);
                S[i] = _mm512_dpbusd_epi32(S[i], wv, _mm512_set1_epi32(a4));
            }
        };
        if constexpr (BITS == 8) {
            const std::uint8_t* qs = in.q + s * SUB * NR;
#pragma GCC unroll 8
            for (std::size_t g = 0; g < groups; ++g) dot(_mm512_load_si512(qs + g * NR * 4), g);
        } else {
            const std::uint8_t* qs = in.q + s * SUB * NR * BITS / 8;
            const __m512i low = _mm512_set1_epi8(0x0F);
            __m512i hv = _mm512_setzero_si512();
            if constexpr (BITS > 4) hv = _mm512_load_si512(qs + SUB * NR / 2);
            auto with_high = [&](__m512i nib, std::size_t g) {  // nib | (k-group g's bits above 4) << 4
                if constexpr (BITS == 4) {
                    return nib;
                } else {
                    const int at = int(g) * (BITS - 4);
                    const __m512i x = at >= 4 ? _mm512_srli_epi16(hv, unsigned(at - 4)) : _mm512_slli_epi16(hv, unsigned(4 - at));
                    return _mm512_or_si512(nib, _mm512_and_si512(x, _mm512_set1_epi8(char(((1 << (BITS - 4)) - 1) << 4))));
                }
            };
#pragma GCC unroll 4
            for (std::size_t h = 0; h < groups / 2; ++h) {
                const __m512i v = _mm512_load_si512(qs + h * NR * 4);
                dot(with_high(_mm512_and_si512(v, low), h), h);
                dot(with_high(_mm512_and_si512(_mm512_srli_epi16(v, 4), low), h + groups / 2), h + groups / 2);
            }
        }
        __m512 sw;
        if constexpr (KSCALE) sw = kscale(in.d, in.ss, s);
        else sw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.sw + s * NR)));
        if constexpr (PER_SUB) {
#pragma GCC unroll 16
            for (std::size_t i = 0; i < MR; ++i)
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[i]), _mm512_mul_ps(sw, _mm512_set1_ps(in.da[i][s])), acc[i]);
        } else {
#pragma GCC unroll 16
            for (std::size_t i = 0; i < MR; ++i) tsb[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[i]), sw, tsb[i]);
            if constexpr (AFFINE) {
                const __m512 nmw = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(kscale(in.dm, in.ms, s)),
                                                                         _mm512_set1_epi32(INT32_MIN)));  // -mw exactly
#pragma GCC unroll 16
                for (std::size_t i = 0; i < MR; ++i) {
                    float bf;
                    std::memcpy(&bf, in.aux[i] + s, 4);
                    tsb[i] = _mm512_fmadd_ps(nmw, _mm512_set1_ps(bf), tsb[i]);
                }
            }
            if ((s + 1) % subs_per_act == 0) {
#pragma GCC unroll 16
                for (std::size_t i = 0; i < MR; ++i) {
                    acc[i] = _mm512_fmadd_ps(tsb[i], _mm512_set1_ps(in.da[i][s / subs_per_act]), acc[i]);
                    tsb[i] = _mm512_setzero_ps();
                }
            }
        }
    }
    const __mmask16 m = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
    for (std::size_t i = 0; i < mr; ++i) {
        float* ci = c + i * ldc;
        __m512 v = acc[i];
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, ci));
        _mm512_mask_storeu_ps(ci, m, v);
    }
}

// AVX-VNNI (VEX, ymm): NR = 8 columns, MR rows; the same sums and float order.
template <std::size_t MR, std::size_t SUB, bool AFFINE, bool PER_SUB, int BITS, bool KSCALE>
DDIFF_TARGET_AVX2_VNNI void qtile_avx2(const qpanel_view& w, std::size_t p, const qactivations& qa, std::size_t i0,
                                       float* c, std::size_t ldc, std::size_t mr, std::size_t nr,
                                       bool accumulate) noexcept {
    constexpr std::size_t NR = 8, groups = SUB / 4;
    static_assert(BITS == 8 || (groups % 2 == 0 && (BITS - 4) * groups <= 8), "the packed layout of the header");
    const std::size_t ns = w.subs(), subs_per_act = w.fmt.act / SUB;
    const tile_inputs<MR> in(w, p, qa, i0, mr);
    auto kscale = [&](const std::uint16_t* hp, const std::int8_t* sp, std::size_t s) {
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hp + (s * SUB / qk_k) * NR)));
        const __m128i sc = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sp + s * NR));
        return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
    };
    __m256 acc[MR], tsb[MR];
    for (std::size_t i = 0; i < MR; ++i) acc[i] = tsb[i] = _mm256_setzero_ps();
    for (std::size_t s = 0; s < ns; ++s) {
        __m256i S[MR];
        for (std::size_t i = 0; i < MR; ++i) S[i] = AFFINE ? _mm256_setzero_si256() : _mm256_set1_epi32(in.aux[i][s]);
        const std::size_t k0 = s * SUB;
        auto dot = [&](__m256i wv, std::size_t g) {
            for (std::size_t i = 0; i < MR; ++i) {
                std::int32_t a4;
                std::memcpy(&a4, in.a[i] + k0 + g * 4, 4);
                S[i] = _mm256_dpbusd_avx_epi32(S[i], wv, _mm256_set1_epi32(a4));
            }
        };
        if constexpr (BITS == 8) {
            const std::uint8_t* qs = in.q + s * SUB * NR;
#pragma GCC unroll 8
            for (std::size_t g = 0; g < groups; ++g)
                dot(_mm256_load_si256(reinterpret_cast<const __m256i*>(qs + g * NR * 4)), g);
        } else {
            const std::uint8_t* qs = in.q + s * SUB * NR * BITS / 8;
            const __m256i low = _mm256_set1_epi8(0x0F);
            __m256i hv = _mm256_setzero_si256();
            if constexpr (BITS > 4) hv = _mm256_load_si256(reinterpret_cast<const __m256i*>(qs + SUB * NR / 2));
            auto with_high = [&](__m256i nib, std::size_t g) {
                if constexpr (BITS == 4) {
                    return nib;
                } else {
                    const int at = int(g) * (BITS - 4);
                    const __m256i x = at >= 4 ? _mm256_srli_epi16(hv, at - 4) : _mm256_slli_epi16(hv, 4 - at);
                    return _mm256_or_si256(nib, _mm256_and_si256(x, _mm256_set1_epi8(char(((1 << (BITS - 4)) - 1) << 4))));
                }
            };
#pragma GCC unroll 4
            for (std::size_t h = 0; h < groups / 2; ++h) {
                const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(qs + h * NR * 4));
                dot(with_high(_mm256_and_si256(v, low), h), h);
                dot(with_high(_mm256_and_si256(_mm256_srli_epi16(v, 4), low), h + groups / 2), h + groups / 2);
            }
        }
        __m256 sw;
        if constexpr (KSCALE) sw = kscale(in.d, in.ss, s);
        else sw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in.sw + s * NR)));
        if constexpr (PER_SUB) {
            for (std::size_t i = 0; i < MR; ++i)
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S[i]), _mm256_mul_ps(sw, _mm256_set1_ps(in.da[i][s])), acc[i]);
        } else {
            for (std::size_t i = 0; i < MR; ++i) tsb[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S[i]), sw, tsb[i]);
            if constexpr (AFFINE) {
                const __m256 nmw = _mm256_xor_ps(kscale(in.dm, in.ms, s), _mm256_set1_ps(-0.0f));  // -mw exactly
                for (std::size_t i = 0; i < MR; ++i) {
                    float bf;
                    std::memcpy(&bf, in.aux[i] + s, 4);
                    tsb[i] = _mm256_fmadd_ps(nmw, _mm256_set1_ps(bf), tsb[i]);
                }
            }
            if ((s + 1) % subs_per_act == 0) {
                for (std::size_t i = 0; i < MR; ++i) {
                    acc[i] = _mm256_fmadd_ps(tsb[i], _mm256_set1_ps(in.da[i][s / subs_per_act]), acc[i]);
                    tsb[i] = _mm256_setzero_ps();
                }
            }
        }
    }
    alignas(32) float tmp[8];
    for (std::size_t i = 0; i < mr; ++i) {
        _mm256_store_ps(tmp, acc[i]);
        float* ci = c + i * ldc;
        for (std::size_t j = 0; j < nr; ++j) ci[j] = accumulate ? ci[j] + tmp[j] : tmp[j];
    }
}

#endif

template <class Arch>
void qtile(const qpanel_view& w, std::size_t p, const qactivations& qa, std::size_t i0, std::size_t mr, float* c,
           std::size_t ldc, std::size_t nr, bool accumulate) noexcept {
    constexpr std::size_t MR = qgemm_config<Arch>::mr;
    // One instantiation per type: Q8_0 / Q4_0 (sub-blocks of 32, symmetric, an activation scale
    // per sub-block; 8 / 4 bits), Q4_K / Q5_K (32, affine, per 256; 4 / 5 bits; int8 scales),
    // Q6_K (16, symmetric, per 256; 6 bits; int8 scales).
#if defined(__x86_64__) || defined(__i386__)
    if constexpr (has_avx512_vnni<Arch> || has_avx_vnni<Arch>) {
        auto run = [&]<std::size_t SUB, bool AFFINE, bool PER_SUB, int BITS, bool KSCALE>() {
            if constexpr (has_avx512_vnni<Arch>)
                qtile_avx512<MR, SUB, AFFINE, PER_SUB, BITS, KSCALE>(w, p, qa, i0, c, ldc, mr, nr, accumulate);
            else
                qtile_avx2<MR, SUB, AFFINE, PER_SUB, BITS, KSCALE>(w, p, qa, i0, c, ldc, mr, nr, accumulate);
        };
        switch (w.fmt.type) {
            case ggml_type::q8_0: run.template operator()<32, false, true, 8, false>(); return;
            case ggml_type::q4_0: run.template operator()<32, false, true, 4, false>(); return;
            case ggml_type::q4_k: run.template operator()<32, true, false, 4, true>(); return;
            case ggml_type::q5_k: run.template operator()<32, true, false, 5, true>(); return;
            case ggml_type::q6_k: run.template operator()<16, false, false, 6, true>(); return;
            default: break;  // from_rows admits no other type
        }
    }
#endif
    qtile_plain<Arch>(w, p, qa, i0, mr, c, ldc, nr, accumulate);
}

}  // namespace kernel

// C[m, n] = A[m, k] W^T (+ C) with W quantized. A: m rows at stride lda (>= k); C: stride ldc.
// scratch: at least qactivations::bytes(m, k, w.fmt) bytes (the quantized activations), or empty
// to use a buffer owned by the calling thread (grown once, reused).
template <class Arch = default_arch>
void qgemm(const float* a, std::size_t lda, std::size_t m, const qpanel_view& w, float* c, std::size_t ldc,
           bool accumulate, thread_pool& pool) {
    using cfg = qgemm_config<Arch>;
    if (w.nr != cfg::nr)
        ddiff::detail::fail<shape_error>("qgemm: weights packed with panel width ", w.nr, ", this architecture (",
                                         Arch::name(), ") uses ", cfg::nr);
    if (lda < w.k) ddiff::detail::fail<shape_error>("qgemm: lda = ", lda, ", expected >= k = ", w.k);
    if (ldc < w.n) ddiff::detail::fail<shape_error>("qgemm: ldc = ", ldc, ", expected >= n = ", w.n);
    if (m == 0) return;
    thread_local std::vector<std::byte> buffer;
    const std::size_t need = qactivations::bytes(m, w.k, w.fmt);
    if (buffer.size() < need) buffer.resize(need);
    qactivations qa;
    qa.m = m;
    qa.k = w.k;
    qa.fmt = w.fmt;
    std::byte* b = buffer.data();
    qa.a = reinterpret_cast<std::int8_t*>(b);
    b += (m * w.k + 63) / 64 * 64;
    qa.da = reinterpret_cast<float*>(b);
    b += m * (w.k / w.fmt.act) * 4;
    qa.aux = reinterpret_cast<std::int32_t*>(b);
    // Quantize the rows (row ranges on the pool: each row is quantized the same way by any thread).
    const std::size_t qthreads = m * w.k < 65536 ? 1 : std::min(pool.size(), m);
    if (qthreads <= 1) quantize_activation_rows(a, lda, 0, m, qa);
    else
        pool.run(qthreads, [&](std::size_t t, std::size_t) {
            quantize_activation_rows(a, lda, m * t / qthreads, m * (t + 1) / qthreads, qa);
        });
    const double flops = 2.0 * double(m) * double(w.n) * double(w.k);
    for_each_gemm_unit(m, w.panels(), cfg::nr, cfg::mr, cfg::mc, flops, pool,
                       [&](std::size_t r0, std::size_t r1, std::size_t p0, std::size_t p1, std::size_t) {
                           for (std::size_t p = p0; p < p1; ++p) {
                               const std::size_t nr = std::min(cfg::nr, w.n - p * cfg::nr);
                               for (std::size_t i = r0; i < r1; i += cfg::mr) {
                                   const std::size_t mr = std::min(cfg::mr, r1 - i);
                                   kernel::qtile<Arch>(w, p, qa, i, mr, c + i * ldc + p * cfg::nr, ldc, nr, accumulate);
                               }
                           }
                       });
}

}  // namespace ddiff::simd::quant
