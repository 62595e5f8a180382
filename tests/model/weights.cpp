// Tests for model/weights.hpp: matrices packed straight from a checkpoint file, fused parts of
// mixed dtypes, and the shape checks, against products computed here from the stored values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "../io/io_test_util.hpp"
#include "../support/safetensors_writer.hpp"
#include "ddiff/model/weights.hpp"

using namespace ddiff;

namespace {

// n x k small integers (exact in bf16, f16, f32 and f64, and every product sum exact in f32).
std::vector<double> integers(std::size_t n, std::size_t k, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(-4, 4);
    std::vector<double> v(n * k);
    for (auto& x : v) x = d(g);
    return v;
}

// IEEE binary16 bits of a small integer, by hand (so the loader's decoder is checked too).
std::uint16_t half_bits(double x) {
    if (x == 0) return 0;
    const std::uint16_t sign = x < 0 ? 0x8000 : 0;
    const double a = std::fabs(x);
    const int e = int(std::floor(std::log2(a)));
    const auto mant = static_cast<std::uint16_t>((a / std::ldexp(1.0, e) - 1.0) * 1024.0);
    return static_cast<std::uint16_t>(sign | ((e + 15) << 10) | mant);
}

template <class T>
test::tensor_data as(const std::string& name, std::size_t n, std::size_t k, const std::vector<double>& v) {
    std::vector<T> t;
    for (double x : v) {
        if constexpr (std::is_same_v<T, simd::bf16>) t.push_back(simd::to_bf16(float(x)));
        else if constexpr (std::is_same_v<T, io::f16>) t.push_back(io::f16{half_bits(x)});
        else t.push_back(static_cast<T>(x));
    }
    return test::tensor_data::from(name, {n, k}, t);
}

// y = x W^T for the stacked parts, in double.
std::vector<double> product(const std::vector<double>& x, std::size_t T, std::size_t k,
                            const std::vector<const std::vector<double>*>& parts) {
    std::vector<double> y;
    for (std::size_t t = 0; t < T; ++t)
        for (const auto* w : parts)
            for (std::size_t r = 0; r < w->size() / k; ++r) {
                double s = 0;
                for (std::size_t c = 0; c < k; ++c) s += x[t * k + c] * (*w)[r * k + c];
                y.push_back(s);
            }
    return y;
}

}  // namespace

TEST_CASE("matrix::fuse packs q, k, v of any stored dtypes into one exact projection") {
    using A = simd::default_arch;
    const std::size_t k = 37, T = 5;
    const auto q = integers(40, k, 1), kk = integers(9, k, 2), v = integers(9, k, 3), x = integers(T, k, 4);
    const auto want = product(x, T, k, {&q, &kk, &v});
    test::scratch_dir dir;
    // bf16 only, f32 only, and a mix with f16 and f64 (converted part by part).
    test::write_safetensors(dir / "bf16.safetensors", {as<simd::bf16>("q", 40, k, q), as<simd::bf16>("k", 9, k, kk),
                                                     as<simd::bf16>("v", 9, k, v)});
    test::write_safetensors(dir / "f32.safetensors", {as<float>("q", 40, k, q), as<float>("k", 9, k, kk),
                                                    as<float>("v", 9, k, v)});
    test::write_safetensors(dir / "mixed.safetensors", {as<simd::bf16>("q", 40, k, q), as<io::f16>("k", 9, k, kk),
                                                      as<double>("v", 9, k, v)});
    std::vector<float> xf(x.begin(), x.end());
    thread_pool pool(2);
    for (const char* file : {"bf16", "f32", "mixed"})
        for (auto path : {model::compute_type::native, model::compute_type::exact}) {
            CAPTURE(file);
            const auto ck = io::checkpoint::open(dir / (std::string(file) + ".safetensors"));
            const auto mq = model::matrix::read(ck, "q", 40, k), mk = model::matrix::read(ck, "k", 9, k),
                       mv = model::matrix::read(ck, "v", 9, k);
            const auto lin = model::matrix::fuse<A>({&mq, &mk, &mv}, model::load_options{path, 2});
            REQUIRE(lin.out_features() == 58);
            REQUIRE(lin.in_features() == k);
            std::vector<float> y(T * 58, -1.0f);
            lin.forward(xf.data(), T, y.data(), pool);
            std::size_t bad = 0;
            for (std::size_t i = 0; i < y.size(); ++i) bad += double(y[i]) != want[i];
            CHECK(bad == 0);
            // The tensors stay readable after their pages were released.
            const auto again = mq.to_f32();
            CHECK(again[0] == float(q[0]));
            CHECK(again[40 * k - 1] == float(q[40 * k - 1]));
        }
}

TEST_CASE("matrix::read and fuse reject shapes that do not match") {
    test::scratch_dir dir;
    test::write_safetensors(dir / "w.safetensors", {as<float>("a", 4, 6, integers(4, 6, 1)),
                                                  as<float>("b", 4, 5, integers(4, 5, 2))});
    const auto ck = io::checkpoint::open(dir / "w.safetensors");
    CHECK_THROWS_AS(model::matrix::read(ck, "a", 6, 4), shape_error);
    CHECK_THROWS_AS(model::matrix::read(ck, "missing", 4, 6), format_error);
    const auto a = model::matrix::read(ck, "a", 4, 6), b = model::matrix::read(ck, "b", 4, 5);
    test::check_throws<shape_error>([&] { (void)model::matrix::fuse<simd::default_arch>({&a, &b}, {}); },
                                    {"cannot fuse", "b", "5 columns", "6 columns"});
}
