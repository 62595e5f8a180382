// Loading weight matrices from a checkpoint into nn::linear: f32 or bf16 as stored, shapes
// checked against the config, q/k/v and gate/up fused into one GEMM each.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/checkpoint.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/simd/bf16.hpp"

namespace ddiff::model {

// How bf16 weights are multiplied: exact (widened to f32 panels at load) or with vdpbf16ps
// (activations rounded to bf16; faster, about 3 significant digits).
struct load_options {
    nn::bf16_path bf16 = nn::bf16_path::widen;
    std::size_t threads = 1;
};

// A [rows, cols] matrix as stored: f32, or bf16 kept as bf16.
struct matrix {
    std::size_t rows = 0, cols = 0;
    bool is_bf16 = false;
    std::vector<float> f;
    std::vector<simd::bf16> h;

    static matrix read(const io::checkpoint& ck, const std::string& name, std::size_t rows, std::size_t cols) {
        const auto t = ck.tensor(name);
        t.expect_shape({rows, cols});
        matrix m{rows, cols, t.type() == io::dtype::bf16, {}, {}};
        if (m.is_bf16) {
            const auto v = t.view<simd::bf16>();
            m.h.assign(v.begin(), v.end());
        } else {
            m.f = t.to_f32();
        }
        return m;
    }

    // Rows of a, then rows of b (same columns); mixed dtypes are widened to f32.
    static matrix stack(std::initializer_list<const matrix*> parts) {
        matrix out;
        out.cols = (*parts.begin())->cols;
        bool all_bf16 = true;
        for (const matrix* p : parts) {
            if (p->cols != out.cols)
                ddiff::detail::fail<shape_error>("model: cannot fuse matrices with ", p->cols, " and ", out.cols,
                                                 " columns, expected equal input sizes");
            all_bf16 = all_bf16 && p->is_bf16;
            out.rows += p->rows;
        }
        out.is_bf16 = all_bf16;
        for (const matrix* p : parts) {
            if (all_bf16) {
                out.h.insert(out.h.end(), p->h.begin(), p->h.end());
            } else if (p->is_bf16) {
                for (auto b : p->h) out.f.push_back(simd::to_float(b));
            } else {
                out.f.insert(out.f.end(), p->f.begin(), p->f.end());
            }
        }
        return out;
    }

    template <class Arch>
    nn::linear<Arch> to_linear(const load_options& o, const float* bias = nullptr) const {
        if (is_bf16) return nn::linear<Arch>::from_bf16(h.data(), rows, cols, bias, o.bf16);
        return nn::linear<Arch>::from_f32(f.data(), rows, cols, bias);
    }

    std::vector<float> to_f32() const {
        if (!is_bf16) return f;
        std::vector<float> out(h.size());
        for (std::size_t i = 0; i < h.size(); ++i) out[i] = simd::to_float(h[i]);
        return out;
    }
};

// A vector tensor of exactly n entries, as f32.
inline std::vector<float> read_vector(const io::checkpoint& ck, const std::string& name, std::size_t n) {
    const auto t = ck.tensor(name);
    t.expect_shape({n});
    return t.to_f32();
}

}  // namespace ddiff::model
