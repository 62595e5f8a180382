// Tests for model/gguf.hpp: LLaDA and Dream loaded from the F32 GGUF files that
// tools/gguf/make_gguf.py wrote with llama.cpp's gguf-py (LLaDA's q/k rows permuted as the
// converter does) give the same logits, bit for bit, as the safetensors twins with the same
// weights; metadata that disagrees with the tensors or the architecture is a typed error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "../io/io_test_util.hpp"
#include "../support/f64_models.hpp"
#include "../support/tolerance.hpp"
#include "ddiff/model/gguf.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {

const fs::path gguf_dir = fs::path(DDIFF_TEST_DATA) / "gguf";

std::vector<token_id> ids_for(std::size_t T, std::size_t V, token_id mask, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(0, int(V) - 1);
    std::vector<token_id> ids(T);
    for (auto& x : ids) x = (g() % 3 == 0) ? mask : token_id(d(g));
    return ids;
}

template <class M>
std::vector<float> logits(M& m, const std::vector<token_id>& ids) {
    std::vector<float> out(ids.size() * m.vocab_size());
    m.forward(ids, out.data());
    return out;
}

std::size_t bits_differ(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    std::size_t n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]);
    return n;
}

std::vector<std::byte> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in.good());
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

// Overwrites the value bytes of metadata key `key` (a scalar; value right after the u32 type).
void patch_value(std::vector<std::byte>& b, std::string_view key, const void* value, std::size_t n) {
    const std::string needle = std::string(key);
    auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end(),
                          [](std::byte x, char c) { return x == static_cast<std::byte>(c); });
    REQUIRE(it != b.end());
    std::memcpy(&*(it + std::ptrdiff_t(needle.size() + 4)), value, n);
}

// The float64 network of a safetensors twin with |dW| = |what the GGUF file stores (gguf-py's
// dequantisation, which ddiff's equals: tests/io/gguf.cpp) - the twin's f32 weight| on every
// matrix; LLaDA's q / k rows are compared after undoing the converter's permutation.
void add_weight_error(test::f64_model& m, const io::gguf_file& f, bool llada) {
    auto set = [&](test::f64_matrix& w, const std::string& name, bool unpermute) {
        const auto t = f.tensor(name);
        const auto v = t.to_f32();
        REQUIRE(v.size() == w.rows * w.cols);
        w.dw.assign(v.size(), 0.0);
        for (std::size_t r = 0; r < w.rows; ++r) {
            const std::size_t fr = unpermute ? model::detail::llada_unpermute(r, m.head_dim) : r;
            for (std::size_t c = 0; c < w.cols; ++c)
                w.dw[r * w.cols + c] = std::abs(double(v[fr * w.cols + c]) - w.w[r * w.cols + c]);
        }
    };
    set(m.embedding, "token_embd.weight", false);
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        auto& L = m.layers[i];
        const std::string b = "blk." + std::to_string(i) + ".";
        set(L.q, b + "attn_q.weight", llada);
        set(L.k, b + "attn_k.weight", llada);
        set(L.v, b + "attn_v.weight", false);
        set(L.o, b + "attn_output.weight", false);
        set(L.gate, b + "ffn_gate.weight", false);
        set(L.up, b + "ffn_up.weight", false);
        set(L.down, b + "ffn_down.weight", false);
    }
    set(m.head, "output.weight", false);
}

// How the native path rounds every projection's input for a file of one weight type.
test::act_rounding native_rounding(std::string_view type) {
    if (type == "Q8_0" || type == "Q4_0") return {test::act_rounding::int8_blocks, 32};  // Q8_0 activations
    if (type == "Q4_K" || type == "Q5_K" || type == "Q6_K") return {test::act_rounding::int8_blocks, 256};  // Q8_K
    if (type == "BF16" && simd::has_bf16_dot<simd::default_arch>) return {test::act_rounding::bf16, 0};
    return {};
}

struct path_error {
    double vs_f64 = 0, vs_f32_logits = 0, ratio = 0, logit_max = 0;  // max |error|, max |error| / bound
};

// Logits of one GGUF file on one path against the float64 logits of its safetensors twin: each
// within the bound error_bound.hpp derives from the file's weight rounding and the path's
// activation rounding, plus the float32 allowance of the f32 logit tests.
template <class M, class Twin>
path_error check_path(M& m, Twin& twin, const test::f64_model& ref, std::size_t n_layers, std::size_t K) {
    path_error e;
    const auto ids = ids_for(24, twin.vocab_size(), twin.mask_id(), 17);
    const std::vector<int> ids_int(ids.begin(), ids.end());
    const auto r = test::forward_with_bound(ref, ids_int);
    const auto got = logits(m, ids), f32 = logits(twin, ids);
    double scale = 1.0;
    for (double v : r.logits) scale = std::max(scale, std::abs(v) + 1.0);
    const double f32_tol = double(n_layers + 1) * double(K) * test::eps32 * scale;
    std::size_t bad = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double err = std::abs(double(got[i]) - r.logits[i]);
        bad += err > r.bound[i] + f32_tol;
        e.vs_f64 = std::max(e.vs_f64, err);
        e.vs_f32_logits = std::max(e.vs_f32_logits, std::abs(double(got[i]) - double(f32[i])));
        e.ratio = std::max(e.ratio, err / (r.bound[i] + f32_tol));
        e.logit_max = std::max(e.logit_max, std::abs(double(f32[i])));
    }
    CHECK(bad == 0);
    return e;
}

}  // namespace

TEST_CASE("gguf: every type's logits, native and exact path, are within the bound derived from its rounding") {
    const fs::path ld = gguf_dir / "llada_tiny", dd = gguf_dir / "dream_tiny";
    const auto lcfg = model::llada_config::from_json(io::json_config::load(ld / "config.json"));
    const auto dcfg = model::dream_config::from_json(io::json_config::load(dd / "config.json"));
    const auto lck = io::checkpoint::open(ld), dck = io::checkpoint::open(dd);
    auto ltwin = model::llada<>::load(ld, {.threads = 2});
    auto dtwin = model::dream<>::load(dd, {.threads = 2});
    for (const char* type : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"})
        for (auto path : {model::compute_type::native, model::compute_type::exact}) {
            const bool native = path == model::compute_type::native;
            const std::string tname = type;
            CAPTURE(tname);
            CAPTURE(native);
            const model::load_options o{.compute = path, .threads = 2};
            const auto lfile = ld / (std::string("llada-") + type + ".gguf");
            auto lref = test::llada_f64(lcfg, lck);
            add_weight_error(lref, io::gguf_file::open(lfile), true);
            if (native) lref.rounding = native_rounding(type);
            auto lm = model::load_llada_gguf<>(lfile, o);
            const auto le = check_path(lm, ltwin, lref, lcfg.n_layers, std::max(lcfg.d_model, lcfg.mlp_hidden));
            const auto dfile = dd / (std::string("dream-") + type + ".gguf");
            auto dref = test::dream_f64(dcfg, dck);
            add_weight_error(dref, io::gguf_file::open(dfile), false);
            if (native) dref.rounding = native_rounding(type);
            auto dm = model::load_dream_gguf<>(dfile, o);
            const auto de = check_path(dm, dtwin, dref, dcfg.n_layers, std::max(dcfg.hidden_size, dcfg.intermediate_size));
            if (native && native_rounding(type).kind != test::act_rounding::none) {
                // The native path is really taken: it rounds the activations, so its logits differ.
                auto exact = model::load_llada_gguf<>(lfile, {.compute = model::compute_type::exact, .threads = 2});
                const auto ids = ids_for(24, lm.vocab_size(), lm.mask_id(), 17);
                CHECK(bits_differ(logits(lm, ids), logits(exact, ids)) > 0);
            }
            MESSAGE(std::string(type) << (native ? " native" : " exact ") << ": max |logit - f32 logit| llada " << le.vs_f32_logits
                         << ", dream " << de.vs_f32_logits << " (max |f32 logit| " << le.logit_max << ", " << de.logit_max
                         << "); max error / bound " << le.ratio << ", " << de.ratio);
        }
}

TEST_CASE("gguf: LLaDA from the F32 GGUF equals its safetensors twin bit for bit") {
    for (std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        const model::load_options o{.compute = model::compute_type::exact, .threads = threads};
        auto twin = model::llada<>::load(gguf_dir / "llada_tiny", o);
        auto g = model::load_llada_gguf<>(gguf_dir / "llada_tiny" / "llada-F32.gguf", o);
        CHECK(g.config().d_model == twin.config().d_model);
        CHECK(g.config().n_kv_heads == 1);
        CHECK(g.mask_id() == twin.mask_id());
        CHECK(g.config().eos_id == twin.config().eos_id);
        CHECK(g.vocab_size() == twin.vocab_size());
        const auto ids = ids_for(40, twin.vocab_size(), twin.mask_id(), 3);
        CHECK(bits_differ(logits(g, ids), logits(twin, ids)) == 0);
    }
}

TEST_CASE("gguf: Dream from the F32 GGUF equals its safetensors twin bit for bit") {
    const model::load_options o{.compute = model::compute_type::exact, .threads = 2};
    auto twin = model::dream<>::load(gguf_dir / "dream_tiny", o);
    auto g = model::load_dream_gguf<>(gguf_dir / "dream_tiny" / "dream-F32.gguf", o);
    static_assert(model::dream<>::shift_logits);
    CHECK(g.config().n_kv_heads == 2);
    CHECK(g.mask_id() == twin.mask_id());
    const auto ids = ids_for(33, twin.vocab_size(), twin.mask_id(), 5);
    CHECK(bits_differ(logits(g, ids), logits(twin, ids)) == 0);
}

TEST_CASE("gguf: inspect summarises architecture, hyperparameters and tensor types") {
    const auto s = model::inspect_gguf(io::gguf_file::open(gguf_dir / "llada_tiny" / "llada-Q4_K.gguf"));
    CHECK(s.architecture == "llada");
    CHECK(s.version == 3);
    CHECK(s.tensor_types.at("Q4_K") == 9);  // embedding, q, k, v, o, gate, up, down, output
    CHECK(s.tensor_types.at("F32") == 3);   // the norms
    CHECK(s.hyperparameters.at("llada.embedding_length") == "256");
    CHECK(s.hyperparameters.at("diffusion.shift_logits") == "false");
    CHECK(s.tokenizer_model == "gpt2");
    CHECK(s.vocab_tokens == 97);
}

TEST_CASE("gguf: metadata that disagrees with the tensors or the architecture is a typed error") {
    test::scratch_dir dir;
    const auto base = read_all(gguf_dir / "llada_tiny" / "llada-F32.gguf");
    {
        auto b = base;
        const std::uint32_t ff = 300;
        patch_value(b, "llada.feed_forward_length", &ff, 4);
        test::write_bytes(dir / "ff.gguf", b);
        test::check_throws<shape_error>([&] { (void)model::load_llada_gguf<>(dir / "ff.gguf"); },
                                        {"blk.0.ffn_gate.weight", "[256, 256]", "expected [300, 256]"});
    }
    {
        auto b = base;
        const std::uint8_t yes = 1;
        patch_value(b, "diffusion.shift_logits", &yes, 1);
        test::write_bytes(dir / "shift.gguf", b);
        test::check_throws<config_error>([&] { (void)model::load_llada_gguf<>(dir / "shift.gguf"); },
                                         {"diffusion.shift_logits = true", "'llada' does not shift"});
    }
    test::check_throws<config_error>([&] { (void)model::load_llada_gguf<>(gguf_dir / "dream_tiny" / "dream-F32.gguf"); },
                                     {"general.architecture = 'dream', expected 'llada'"});
}

TEST_CASE("gguf: quantized LLaDA and Dream files load kept quantized; logits do not depend on the thread count") {
    for (const char* t : {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"}) {
        CAPTURE(t);
        const auto file = gguf_dir / "llada_tiny" / (std::string("llada-") + t + ".gguf");
        auto m1 = model::load_llada_gguf<>(file, {.threads = 1});
        auto m3 = model::load_llada_gguf<>(file, {.threads = 3});
        const auto ids = ids_for(40, m1.vocab_size(), m1.mask_id(), 11);
        const auto a = logits(m1, ids), b = logits(m3, ids);
        CHECK(bits_differ(a, b) == 0);
        std::size_t finite = 0;
        for (float x : a) finite += std::isfinite(x);
        CHECK(finite == a.size());
        auto d = model::load_dream_gguf<>(gguf_dir / "dream_tiny" / (std::string("dream-") + t + ".gguf"), {.threads = 2});
        const auto da = logits(d, ids_for(21, d.vocab_size(), d.mask_id(), 12));
        finite = 0;
        for (float x : da) finite += std::isfinite(x);
        CHECK(finite == da.size());
    }
}
