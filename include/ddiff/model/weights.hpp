// Loading weight matrices from a checkpoint into nn::linear: f32 or bf16 as stored, shapes
// checked against the config, q/k/v and gate/up fused into one GEMM each. Matrices are packed
// straight from the memory-mapped file (no intermediate copy, fused parts packed in place) and
// each tensor's file pages are released once packed, so loading holds little more than the
// packed weights at any moment.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/checkpoint.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/simd/bf16.hpp"

namespace ddiff::model {

// How bf16 and quantized weights are multiplied (f32 weights always run the f32 GEMM):
//   native: their fast path, as their reference implementations run them: bf16 with vdpbf16ps
//           where the arch has it (activations rounded to bf16), GGUF quantized types with the
//           integer GEMM (activations quantized to int8 per block, as llama.cpp does);
//   exact:  f32 arithmetic on the exact stored values: bf16 widened to f32 panels, quantized
//           weights dequantised (gguf-py's values) to f32 panels at load (4-8x their memory).
// docs/gguf.md gives the measured logit error of each path against the f32 logits.
enum class compute_type { native, exact };

struct load_options {
    compute_type compute = compute_type::native;
    std::size_t threads = 1;

    nn::bf16_path bf16() const noexcept {
        return compute == compute_type::native ? nn::bf16_path::dot : nn::bf16_path::widen;
    }
};

// A [rows, cols] weight matrix of a checkpoint, by reference: the shape is checked when it is
// named, the data is read when it is packed or converted.
class matrix {
public:
    static matrix read(const io::checkpoint& ck, const std::string& name, std::size_t rows, std::size_t cols) {
        auto t = ck.tensor(name);
        t.expect_shape({rows, cols});
        return matrix(ck, t, rows, cols);
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    io::dtype type() const noexcept { return t_.type(); }

    // The elements as f32 (F32, F16, BF16 exactly; F64 rounded), row-major; then the file pages
    // are released.
    std::vector<float> to_f32() const {
        auto out = t_.to_f32();
        ck_->release(t_);
        return out;
    }

    // This matrix as a linear layer.
    template <class Arch>
    nn::linear<Arch> to_linear(const load_options& o, const float* bias = nullptr) const {
        return fuse<Arch>({this}, o, bias);
    }

    // The rows of each part in turn (q, k, v -> one qkv projection), packed from the file without
    // a stacked copy. All BF16: bf16 panels or widened (o.bf16()); all F32: f32 panels; a mix, or
    // F16 / F64, is converted to f32 one part at a time. shape_error when the parts' column
    // counts differ.
    template <class Arch>
    static nn::linear<Arch> fuse(std::initializer_list<const matrix*> parts, const load_options& o,
                                 const float* bias = nullptr) {
        ddiff::detail::require(parts.size() > 0, "matrix::fuse", "parts", parts.size(), ">= 1");
        const std::size_t cols = (*parts.begin())->cols_;
        std::size_t rows = 0;
        bool all_bf16 = true, all_f32 = true;
        for (const matrix* p : parts) {
            if (p->cols_ != cols)
                ddiff::detail::fail<shape_error>("model: cannot fuse ", p->t_.name(), " with ", p->cols_,
                                                 " columns into a projection of ", cols,
                                                 " columns, expected equal input sizes");
            rows += p->rows_;
            all_bf16 = all_bf16 && p->type() == io::dtype::bf16;
            all_f32 = all_f32 && p->type() == io::dtype::f32;
        }
        nn::linear<Arch> out;
        if (all_bf16) {
            out = pack_parts<Arch, simd::bf16>(parts, rows, cols, o, bias, [](const matrix& m) {
                return m.t_.template view<simd::bf16>();
            });
        } else if (all_f32) {
            out = pack_parts<Arch, float>(parts, rows, cols, o, bias, [](const matrix& m) {
                return m.t_.template view<float>();
            });
        } else {
            out = pack_parts<Arch, float>(parts, rows, cols, o, bias, [](const matrix& m) { return m.t_.to_f32(); });
        }
        for (const matrix* p : parts) p->ck_->release(p->t_);
        return out;
    }

private:
    matrix(const io::checkpoint& ck, io::tensor_ref t, std::size_t rows, std::size_t cols)
        : ck_(&ck), t_(t), rows_(rows), cols_(cols) {}

    // Reads every part with `get` (a zero-copy view, or a converted copy), then packs by rows.
    template <class Arch, class T, class Get>
    static nn::linear<Arch> pack_parts(std::initializer_list<const matrix*> parts, std::size_t rows,
                                       std::size_t cols, const load_options& o, const float* bias, Get get) {
        using Data = decltype(get(**parts.begin()));
        std::vector<Data> data;
        std::vector<std::size_t> first;  // the first fused row of each part
        data.reserve(parts.size());
        std::size_t r0 = 0;
        for (const matrix* p : parts) {
            data.push_back(get(*p));
            first.push_back(r0);
            r0 += p->rows_;
        }
        auto row = [&](std::size_t r) -> const T* {
            std::size_t i = data.size() - 1;
            while (first[i] > r) --i;
            return std::to_address(data[i].begin()) + (r - first[i]) * cols;
        };
        return nn::linear<Arch>::from_rows(row, rows, cols, bias, o.bf16());
    }

    const io::checkpoint* ck_;
    io::tensor_ref t_;
    std::size_t rows_, cols_;
};

// A vector tensor of exactly n entries, as f32.
inline std::vector<float> read_vector(const io::checkpoint& ck, const std::string& name, std::size_t n) {
    const auto t = ck.tensor(name);
    t.expect_shape({n});
    return t.to_f32();
}

}  // namespace ddiff::model
