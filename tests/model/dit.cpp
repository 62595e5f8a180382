// MDLM and SEDD DiT against the PyTorch reference (tools/reference/dit.py, goldens written by
// tools/reference/make_goldens.py): MDLM's raw backbone logits (sigma zeroed without time
// conditioning) and its SUBS log-probabilities, SEDD's log score (scale_by_sigma and the scatter)
// and the p(x_0 | x_t) derived from it, all within a derived tolerance with identical argmax;
// decodes through ddiff::decoder; typed config errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "../support/tolerance.hpp"
#include "ddiff/ddiff.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dit.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

token_batch to_batch(const xt::xtensor<std::int64_t, 2>& ids) {
    token_batch x = xt::zeros<token_id>({ids.shape(0), ids.shape(1)});
    for (std::size_t b = 0; b < ids.shape(0); ++b)
        for (std::size_t t = 0; t < ids.shape(1); ++t) x(b, t) = token_id(ids(b, t));
    return x;
}

// Float32 forward vs a float64 reference: every dot product of length K <= max(d, 4d, cond_dim)
// rounds with relative error K eps32 of its absolute sum; errors add over the blocks and the
// output layer. Bound per logit: (n_blocks + 1) * K * eps32 * (max |ref| + 1), as for LLaDA.
// (The conditioning is computed in float64 and rounded once, so it adds one eps32.)
double logit_tolerance(const model::dit_config& c, double ref_scale) {
    const double K = double(std::max({c.hidden_size, model::dit_config::mlp_ratio * c.hidden_size, c.cond_dim}));
    return double(c.n_blocks + 1) * K * test::eps32 * (ref_scale + 1.0);
}
double max_abs_finite(const xt::xtensor<double, 3>& r, double floor = -1e5) {
    double s = 0.0;
    for (double v : r)
        if (v > floor) s = std::max(s, std::abs(v));
    return s;
}

struct comparison {
    double worst = 0.0;
    std::size_t argmax_mismatches = 0;
};
// out (T, V) rows of row b against ref(b, ., .); entries of ref below `floor` must be -inf in out
// (upstream writes -1e6 where ddiff writes -inf).
comparison compare_rows(const float* out, const xt::xtensor<double, 3>& ref, std::size_t b, double floor = -1e5) {
    const std::size_t T = ref.shape(1), V = ref.shape(2);
    comparison c;
    for (std::size_t t = 0; t < T; ++t) {
        std::size_t best_ref = 0, best = 0;
        for (std::size_t v = 0; v < V; ++v) {
            const double o = out[t * V + v], r = ref(b, t, v);
            if (r <= floor) {
                if (o != -std::numeric_limits<float>::infinity()) c.worst = INFINITY;
            } else {
                c.worst = std::max(c.worst, std::abs(o - r));
            }
            if (r > ref(b, t, best_ref)) best_ref = v;
            if (o > out[t * V + best]) best = v;
        }
        c.argmax_mismatches += best != best_ref;
    }
    return c;
}
}  // namespace

TEST_CASE("DiT satisfies the denoiser concepts") {
    static_assert(check_denoiser<model::dit<>>());
    static_assert(masked_denoiser<model::dit<>>);
}

TEST_CASE("MDLM backbone logits and SUBS log-probabilities match the PyTorch reference") {
    const fs::path dir = models / "mdlm_tiny";
    auto m = model::dit<>::load(dir);
    CHECK(m.variant() == model::dit_variant::mdlm);
    CHECK(!m.config().time_conditioning);
    CHECK(!m.uses_sigma());
    CHECK(!policy::time_conditioned(m));  // the decoder may reuse an unchanged input's output
    CHECK(m.mask_id() == 96);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto x = to_batch(g.tensor("input_ids").to_i64<2>());
    const auto sigma = g.tensor("sigma").to_f64();
    const auto sigma_bb = g.tensor("sigma_backbone").to_f64();
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const auto ref_lp = g.tensor("log_probs_subs_f64").to_f64<3>();
    const std::size_t B = x.shape(0), T = x.shape(1), V = ref.shape(2);
    REQUIRE(m.vocab_size() == V);
    CHECK(sigma_bb == std::vector<double>{0.0, 0.0});

    // Raw logits: the backbone is fed 0 whatever sigma (time_conditioning false).
    const double tol = logit_tolerance(m.config(), max_abs_finite(ref));
    std::vector<float> out(T * V), out2(T * V);
    double worst = 0.0;
    for (std::size_t b = 0; b < B; ++b) {
        m.forward(std::span<const token_id>(x.data() + b * T, T), sigma[b], out.data());
        const auto c = compare_rows(out.data(), ref, b);
        CHECK(c.argmax_mismatches == 0);
        worst = std::max(worst, c.worst);
        m.forward(std::span<const token_id>(x.data() + b * T, T), sigma[b] + 5.0, out2.data());
        CHECK(out2 == out);  // sigma is ignored
    }
    CAPTURE(tol);
    CHECK(worst <= tol);
    MESSAGE("mdlm_tiny: max |logit error| " << worst << " (bound " << tol << ")");

    // denoise = SUBS: log-softmax without the mask shifts every entry by one log-sum-exp, which
    // is 1-Lipschitz in the max norm, so the error is at most twice the logit bound.
    xt::xtensor<float, 3> lp;
    const std::vector<double> alpha{std::exp(-sigma[0]), std::exp(-sigma[1])};
    m.denoise(x, alpha, lp);
    const double tol_lp = 2.0 * tol;
    double worst_lp = 0.0;
    for (std::size_t b = 0; b < B; ++b) {
        const auto c = compare_rows(lp.data() + b * T * V, ref_lp, b);
        CHECK(c.argmax_mismatches == 0);
        worst_lp = std::max(worst_lp, c.worst);
        for (std::size_t t = 0; t < T; ++t) {
            double total = 0.0;
            for (std::size_t v = 0; v < V; ++v) total += std::exp(double(lp(b, t, v)));
            CHECK(std::abs(total - 1.0) <= test::sum_tolerance(V, 1.0 + tol_lp, test::eps32) + tol_lp);
            CHECK(lp(b, t, 96) == -std::numeric_limits<float>::infinity());
        }
    }
    CHECK(worst_lp <= tol_lp);
    MESSAGE("mdlm_tiny: max |SUBS log-prob error| " << worst_lp << " (bound " << tol_lp << ")");
    // alpha = 0 is allowed here: the checkpoint never looks at sigma.
    CHECK_NOTHROW(m.denoise(x, std::vector<double>{0.0, 1.0}, lp));
}

TEST_CASE("SEDD log score and the p(x_0 | x_t) derived from it match the PyTorch reference") {
    const fs::path dir = models / "sedd_tiny";
    auto m = model::dit<>::load(dir);
    CHECK(m.variant() == model::dit_variant::sedd);
    CHECK(m.config().scale_by_sigma);
    CHECK(m.uses_sigma());
    CHECK(policy::time_conditioned(m));
    CHECK(m.mask_id() == 96);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto x = to_batch(g.tensor("input_ids").to_i64<2>());
    const auto sigma = g.tensor("sigma").to_f64();
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t B = x.shape(0), T = x.shape(1), V = ref.shape(2);
    REQUIRE(m.vocab_size() == V);
    REQUIRE(sigma.size() == B);

    const double tol = logit_tolerance(m.config(), max_abs_finite(ref));
    std::vector<float> out(T * V);
    double worst = 0.0;
    for (std::size_t b = 0; b < B; ++b) {
        m.log_score(std::span<const token_id>(x.data() + b * T, T), sigma[b], out.data());
        const auto c = compare_rows(out.data(), ref, b);
        CHECK(c.argmax_mismatches == 0);
        worst = std::max(worst, c.worst);
        for (std::size_t t = 0; t < T; ++t) CHECK(out[t * V + std::size_t(x(b, t))] == 0.0f);
    }
    CAPTURE(tol);
    CHECK(worst <= tol);
    MESSAGE("sedd_tiny: max |log score error| " << worst << " (bound " << tol << ")");

    // p(x_0 | x_t) at masked positions = log-softmax of the log score over y != mask (the
    // scaling cancels); unmasked positions are carried over. Reference: that transform of the
    // golden log score.
    xt::xtensor<double, 3> ref_lp = xt::xtensor<double, 3>::from_shape({B, T, V});
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t t = 0; t < T; ++t) {
            const bool masked = x(b, t) == m.mask_id();
            double mx = -INFINITY, z = 0.0;
            for (std::size_t v = 0; v + 1 < V; ++v) mx = std::max(mx, ref(b, t, v));
            for (std::size_t v = 0; v + 1 < V; ++v) z += std::exp(ref(b, t, v) - mx);
            for (std::size_t v = 0; v < V; ++v)
                ref_lp(b, t, v) = masked ? (v + 1 == V ? -1e6 : ref(b, t, v) - mx - std::log(z))
                                         : (token_id(v) == x(b, t) ? 0.0 : -1e6);
        }
    xt::xtensor<float, 3> lp;
    const std::vector<double> alpha{std::exp(-sigma[0]), std::exp(-sigma[1])};
    m.denoise(x, alpha, lp);
    const double tol_lp = 2.0 * tol;
    double worst_lp = 0.0;
    for (std::size_t b = 0; b < B; ++b) {
        const auto c = compare_rows(lp.data() + b * T * V, ref_lp, b);
        CHECK(c.argmax_mismatches == 0);
        worst_lp = std::max(worst_lp, c.worst);
    }
    CHECK(worst_lp <= tol_lp);
    MESSAGE("sedd_tiny: max |log p(x0|xt) error| " << worst_lp << " (bound " << tol_lp << ")");

    // Power: the noise level matters (the rows' sigmas swapped change the output).
    xt::xtensor<float, 3> swapped;
    m.denoise(x, std::vector<double>{alpha[1], alpha[0]}, swapped);
    double moved = 0.0;
    for (std::size_t i = 0; i < lp.size(); ++i)
        if (std::isfinite(lp.data()[i])) moved = std::max(moved, std::abs(double(lp.data()[i]) - swapped.data()[i]));
    CHECK(moved > tol_lp);

    // Bad noise levels.
    CHECK_THROWS_WITH_AS(m.denoise(x, std::vector<double>{0.0, 0.5}, lp), doctest::Contains("alpha[0] = 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(m.denoise(x, std::vector<double>{0.5, 1.5}, lp), doctest::Contains("alpha[1]"), invalid_argument);
    CHECK_THROWS_WITH_AS(m.denoise(x, std::vector<double>{0.5, std::nan("")}, lp), doctest::Contains("alpha[1]"),
                         invalid_argument);
    CHECK_THROWS_AS(m.denoise(x, std::vector<double>{0.5}, lp), shape_error);
    CHECK_THROWS_WITH_AS(m.log_score(std::span<const token_id>(x.data(), T), 0.0, out.data()),
                         doctest::Contains("sigma"), invalid_argument);
}

TEST_CASE("MDLM and SEDD decode through ddiff::decoder") {
    for (const char* name : {"mdlm_tiny", "sedd_tiny"}) {
        CAPTURE(name);
        auto m = model::dit<>::load(models / name);
        const std::size_t P = 4, G = 8, V = m.vocab_size();
        sequence prompt = xt::zeros<token_id>({P});
        for (std::size_t i = 0; i < P; ++i) prompt(i) = token_id(5 + 13 * i);

        // MDLM's ancestral sampler (temperature 1).
        decoder<model::dit<>, schedule::log_linear, remask::random, sampler::ancestral> anc(m);
        generate_options o;
        o.gen_length = G;
        o.steps = 16;
        o.temperature = 1.0;
        o.seed = 3;
        const auto res = anc.generate(prompt, o);
        CHECK(res.nfe >= 1);
        CHECK(res.nfe <= o.steps);
        for (std::size_t i = 0; i < P; ++i) CHECK(res.tokens(0, i) == prompt(i));
        for (std::size_t i = P; i < P + G; ++i) CHECK(res.tokens(0, i) != m.mask_id());
        // Same seed, same output.
        CHECK(anc.generate(prompt, o).tokens == res.tokens);

        // Greedy top-k: the first commit is the most confident masked position of denoise() at
        // alpha(t = 1), as computed by hand (so the noise level reaches the model).
        decoder<model::dit<>, schedule::log_linear, remask::low_confidence, sampler::top_k> greedy(m);
        generate_options og;
        og.gen_length = G;
        og.steps = G;
        std::vector<step_record> trace;
        const auto gres = greedy.generate(prompt, og, [&](const step_record& r) { trace.push_back(r); });
        CHECK(gres.nfe == G);
        token_batch x0 = xt::zeros<token_id>({std::size_t{1}, P + G});
        for (std::size_t i = 0; i < P + G; ++i) x0(0, i) = i < P ? prompt(i) : m.mask_id();
        xt::xtensor<float, 3> lp;
        m.denoise(x0, std::vector<double>{schedule::log_linear{}.alpha(1.0)}, lp);
        std::size_t pos = 0;
        double conf = -1.0;
        token_id tok = 0;
        for (std::size_t i = P; i < P + G; ++i)
            for (std::size_t v = 0; v < V; ++v)
                if (double p = std::exp(double(lp(0, i, v))); p > conf) conf = p, pos = i, tok = token_id(v);
        REQUIRE(!trace.empty());
        REQUIRE(trace[0].committed.size() == 1);
        CHECK(trace[0].committed[0] == pos);
        CHECK(gres.tokens(0, pos) == tok);
    }
    // SEDD with its own analytic predictor.
    auto s = model::dit<>::load(models / "sedd_tiny");
    decoder<model::dit<>, schedule::log_linear, remask::random, sampler::sedd_analytic<>> dec(s);
    generate_options o;
    o.gen_length = 8;
    o.steps = 8;
    o.temperature = 1.0;
    const auto res = dec.generate(token_batch(xt::zeros<token_id>({std::size_t{2}, std::size_t{3}})), o);
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 3; i < 11; ++i) CHECK(res.tokens(b, i) != s.mask_id());
}

TEST_CASE("DiT loading rejects bad configs and checkpoints with typed errors") {
    const fs::path tmp = fs::temp_directory_path() / "ddiff_dit_bad";
    for (const char* name : {"mdlm_tiny", "sedd_tiny"}) {
        CAPTURE(name);
        const bool sedd = std::string(name) == "sedd_tiny";
        fs::remove_all(tmp);
        fs::create_directories(tmp);
        fs::copy_file(models / name / "model.safetensors", tmp / "model.safetensors");
        nlohmann::json base;
        std::ifstream(models / name / "config.json") >> base;
        // Edit one key (a JSON pointer such as "/model/n_heads"); a discarded value removes it.
        auto edit = [&](const std::string& ptr, const nlohmann::json& value, bool remove = false) {
            auto j = base;
            if (remove)
                j.at(nlohmann::json::json_pointer(ptr).parent_pointer()).erase(nlohmann::json::json_pointer(ptr).back());
            else
                j[nlohmann::json::json_pointer(ptr)] = value;
            std::ofstream(tmp / "config.json") << j.dump(2);
        };
        const std::string mp = sedd ? "/model/" : "/";
        const std::string heads = sedd ? "model.n_heads" : "n_heads";
        edit(mp + "n_heads", 3);
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains(heads.c_str()), config_error);
        edit(mp + (sedd ? "hidden_size" : "hidden_dim"), 0);
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains(sedd ? "model.hidden_size" : "hidden_dim"),
                             config_error);
        // More blocks than the checkpoint holds: the missing tensor is named.
        edit(mp + "n_blocks", 3);
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("blocks.2"), ddiff::error);
        // A hidden size that disagrees with the tensors.
        edit(mp + (sedd ? "hidden_size" : "hidden_dim"), 32);
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("vocab_embed.embedding"), shape_error);
        edit(mp + "cond_dim", 16);
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("sigma_map.mlp.0.weight"), shape_error);
        // A sequence longer than model_length.
        edit(mp + (sedd ? "length" : "model_length"), 8);
        auto m = model::dit<>::load(tmp);
        std::vector<token_id> ids(9, 1);
        std::vector<float> out(9 * m.vocab_size());
        CHECK_THROWS_WITH_AS(m.forward(ids, 0.5, out.data()), doctest::Contains("model_length"), invalid_argument);
        if (sedd) {
            edit("/graph/type", "uniform");
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("graph.type"), config_error);
            edit("/model/type", "unet");
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("model.type"), config_error);
            edit("/model/scale_by_sigma", nullptr, true);
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("model.scale_by_sigma"), config_error);
            edit("/tokens", 97);  // vocabulary of 98 rows: the embedding does not fit
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("vocab_embed.embedding"), shape_error);
            edit("/model", nullptr, true);
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("model_type"), config_error);
        } else {
            edit("/model_type", "bert");
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("model_type"), config_error);
            edit("/time_conditioning", "yes");
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("time_conditioning"), config_error);
            edit("/mask_token_id", 97);
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("mask_token_id"), config_error);
            edit("/model_type", nullptr, true);
            CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains("model_type"), config_error);
            // MDLM has no score head.
            auto md = model::dit<>::load(models / name);
            std::vector<token_id> few(3, 1);
            std::vector<float> o3(3 * md.vocab_size());
            CHECK_THROWS_AS(md.log_score(few, 0.5, o3.data()), invalid_argument);
            // With time_conditioning true the output depends on sigma, and alpha = 0 is refused.
            edit("/time_conditioning", true);
            auto tc = model::dit<>::load(tmp);
            CHECK(tc.uses_sigma());
            std::vector<float> a(3 * tc.vocab_size()), b(3 * tc.vocab_size());
            tc.forward(few, 0.5, a.data());
            tc.forward(few, 2.0, b.data());
            CHECK(a != b);
            xt::xtensor<float, 3> lp;
            token_batch xb = xt::zeros<token_id>({std::size_t{1}, std::size_t{3}});
            CHECK_THROWS_AS(tc.denoise(xb, std::vector<double>{0.0}, lp), invalid_argument);
        }
    }
    fs::remove_all(tmp);
}
