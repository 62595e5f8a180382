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

}  // namespace

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
