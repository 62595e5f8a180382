// The factorisation error of parallel decoding, measured: total-variation distance between
// each sampler's output distribution and the true distribution of a Markov chain, on the exact
// oracle, versus the number of steps. Writes a markdown table (docs/tv_table.md).
//
//   build/release/examples/example_tv_table [samples] > docs/tv_table.md
#include <ddiff/ddiff.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
using namespace ddiff;
using M = oracle::absorbing_markov_oracle;
constexpr std::size_t L = 8, V = 2, cells = 256;  // all 2^8 sequences

// A sticky two-state chain: strong correlations, so committing neighbours independently hurts.
oracle::markov_chain chain() {
    xt::xtensor<double, 1> init = {0.5, 0.5};
    xt::xtensor<double, 2> P = {{0.85, 0.15}, {0.25, 0.75}};
    return oracle::markov_chain(init, P);
}

std::size_t code_of(const token_batch& x) {
    std::size_t c = 0;
    for (std::size_t i = 0; i < L; ++i) c |= std::size_t(x(0, i)) << i;
    return c;
}

double tv(const std::vector<double>& p, const std::vector<std::size_t>& counts, std::size_t n) {
    double d = 0.0;
    for (std::size_t c = 0; c < cells; ++c) d += std::abs(double(counts[c]) / double(n) - p[c]);
    return 0.5 * d;
}

template <class Dec>
std::pair<double, double> measure(Dec& dec, const std::vector<double>& p, std::uint32_t steps, std::size_t n) {
    generate_options o;
    o.gen_length = L;
    o.steps = steps;
    o.temperature = 1.0;
    std::vector<std::size_t> counts(cells, 0);
    std::size_t nfe = 0;
    for (std::size_t r = 0; r < n; ++r) {
        o.seed = 1000003 * steps + r;
        const auto res = dec.generate(sequence{}, o);
        ++counts[code_of(res.tokens)];
        nfe += res.nfe;
    }
    return {tv(p, counts, n), double(nfe) / double(n)};
}
}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
    const auto ch = chain();
    M model(ch);
    std::vector<double> p(cells);
    for (std::size_t c = 0; c < cells; ++c) {
        std::vector<token_id> s(L);
        for (std::size_t i = 0; i < L; ++i) s[i] = token_id((c >> i) & 1u);
        p[c] = std::exp(ch.log_likelihood(s));
    }
    // The noise floor: exact samples from the chain itself, same n.
    std::vector<std::size_t> exact(cells, 0);
    for (std::size_t r = 0; r < n; ++r) {
        const auto s = ch.sample(L, counter_rng(424242, r));
        std::size_t c = 0;
        for (std::size_t i = 0; i < L; ++i) c |= std::size_t(s(i)) << i;
        ++exact[c];
    }
    std::printf("# Factorisation error of parallel decoding, measured on the exact oracle\n\n");
    std::printf("Data: a two-state Markov chain (P = [[0.85, 0.15], [0.25, 0.75]], uniform start), length %zu,\n"
                "so all %zu sequences are enumerated. Each cell is the total-variation distance between %zu\n"
                "samples of the sampler (temperature 1, log-linear schedule, one block) and the true\n"
                "distribution; the model is exact, so everything above the noise floor is the sampler's own\n"
                "error. Noise floor (the chain's own exact sampler, same n): **%.4f**. Adaptive samplers choose\n"
                "their own number of steps: their row gives the mean NFE instead.\n\n",
                L, cells, n, tv(p, exact, n));
    std::printf("Regenerate: `build/release/examples/example_tv_table %zu > docs/tv_table.md`.\n\n", n);
    const std::uint32_t steps[] = {1, 2, 4, 8};
    std::printf("| sampler | remask | 1 step | 2 steps | 4 steps | 8 steps |\n|---|---|---|---|---|---|\n");
    auto row = [&](const char* name, const char* rm, auto dec) {
        std::printf("| %s | %s |", name, rm);
        for (auto s : steps) std::printf(" %.4f |", measure(dec, p, s, n).first);
        std::printf("\n");
        std::fflush(stdout);
    };
    using S = schedule::log_linear;
    row("top_k (LLaDA)", "random", decoder<M, S, remask::random, sampler::top_k>(model));
    row("top_k (LLaDA)", "low_confidence", decoder<M, S, remask::low_confidence, sampler::top_k>(model));
    row("top_k (LLaDA)", "margin", decoder<M, S, remask::margin, sampler::top_k>(model));
    row("dream_count", "entropy", decoder<M, S, remask::entropy, sampler::dream_count>(model));
    row("schedule_count", "random", decoder<M, S, remask::random, sampler::schedule_count<false>>(model));
    row("ancestral (MDLM)", "-", decoder<M, S, remask::random, sampler::ancestral>(model));
    row("sedd_euler", "-", decoder<M, S, remask::random, sampler::sedd_euler<>>(model));
    row("remdm_cap", "-", decoder<M, S, remask::random, sampler::remdm_cap>(model));
    row("maskgit (cosine)", "maskgit", decoder<M, schedule::maskgit, remask::maskgit_gumbel, sampler::maskgit>(model));
    std::printf("\n| adaptive sampler | remask | TV | mean NFE |\n|---|---|---|---|\n");
    auto arow = [&](const char* name, const char* rm, auto dec) {
        const auto [d, nfe] = measure(dec, p, 1, n);
        std::printf("| %s | %s | %.4f | %.2f |\n", name, rm, d, nfe);
        std::fflush(stdout);
    };
    arow("first_hitting", "-", decoder<M, S, remask::random, sampler::first_hitting>(model));
    arow("threshold 0.9 (Fast-dLLM)", "low_confidence", decoder<M, S, remask::low_confidence, sampler::threshold>(model));
    arow("threshold 0.7 (Fast-dLLM)", "low_confidence",
         decoder<M, S, remask::low_confidence, sampler::threshold>(model, {}, {}, sampler::threshold(0.7)));
    arow("factor 1 (Fast-dLLM)", "confidence", decoder<M, S, remask::confidence, sampler::factor>(model));
    arow("eb gamma 0.001", "confidence", decoder<M, S, remask::confidence, sampler::entropy_bounded>(model));
    arow("eb gamma 0.5", "confidence", decoder<M, S, remask::confidence, sampler::entropy_bounded>(model, {}, {}, sampler::entropy_bounded(0.5)));
    arow("dinfer_threshold 0.9", "confidence", decoder<M, S, remask::confidence, sampler::dinfer_threshold>(model));
    return 0;
}
