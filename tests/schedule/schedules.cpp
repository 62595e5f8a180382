// Tests for schedule/: boundary values, monotonicity, alpha' against central differences,
// the t(alpha(t)) round trip, and a table computed independently by
// tools/schedules/make_schedule_table.py (numpy).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/schedule/all.hpp"

using namespace ddiff;
using namespace ddiff::schedule;

namespace {
struct entry {
    std::string name;
    std::function<double(double)> alpha, alpha_prime;
    std::function<double(double)> t_of_alpha;  // empty if no closed form
    double alpha0, alpha1;                      // closed-form boundary values
    double invert_lo, invert_hi;                // t range where alpha is strictly decreasing
    std::vector<double> kinks;
};

template <class S>
entry make(std::string name, S s, double a0, double a1, double lo = 0.0, double hi = 1.0,
           std::vector<double> kinks = {}) {
    entry e{std::move(name), [s](double t) { return s.alpha(t); }, [s](double t) { return s.alpha_prime(t); }, {},
            a0, a1, lo, hi, std::move(kinks)};
    if constexpr (invertible_schedule<S>) e.t_of_alpha = [s](double a) { return s.t_of_alpha(a); };
    return e;
}

const std::vector<entry>& registry() {
    const double eps = 1e-3;
    static const std::vector<entry> r = {
        make("log_linear", log_linear{}, 1.0, eps),
        make("mdlm_cosine", mdlm_cosine{}, 1.0, eps),
        make("mdlm_cosine_squared", mdlm_cosine_squared{}, 1.0, eps),
        make("duo_cosine", duo_cosine{}, 1.0, 1.0 - std::sin(pi / 2.0 * (1.0 - eps))),
        make("bd3lm_cosine", bd3lm_cosine{}, 1.0 - eps, 0.0),
        make("bd3lm_square", bd3lm_square{}, 1.0 - eps, 0.0, std::sqrt(eps), 1.0, {std::sqrt(eps)}),
        make("bd3lm_sqrt", bd3lm_sqrt{}, 1.0 - eps, 0.0, eps * eps, 1.0, {eps * eps}),
        make("bd3lm_log", bd3lm_log{}, 1.0, 0.0),
        make("geometric", geometric{}, std::exp(-1e-4), std::exp(-20.0)),
        make("linear_sigma", linear_sigma{}, std::exp(-1e-3), std::exp(-7.0)),
        make("d3pm_jsd", d3pm(d3pm_kind::jsd), 1.0, 0.0),
        make("d3pm_linear", d3pm(d3pm_kind::linear), 1.0, 0.0, 0.0, 1.0),
        make("d3pm_cosine", d3pm(d3pm_kind::cosine), 1.0, 0.0, 0.0, 1.0),
        make("maskgit_uniform", maskgit(maskgit_kind::uniform), 1.0 - 1e-6, 0.0, 1e-6, 1.0, {1e-6}),
        make("maskgit_pow", maskgit(maskgit_kind::pow, 2.0), 1.0 - 1e-6, 0.0, 1e-3, 1.0),
        make("maskgit_cosine", maskgit(maskgit_kind::cosine), 1.0 - 1e-6, 0.0, 1e-5, 1.0),
        make("maskgit_log", maskgit(maskgit_kind::log), 1.0 - 1e-6, 0.0, 1e-3, 1.0 - 1.0 / 256.0, {1.0 - 1.0 / 256.0}),
        make("maskgit_exp", maskgit(maskgit_kind::exp), 1.0 - 1e-6, 1.0 / 256.0, 1e-3, 1.0),
        make("remdm_loop", remdm_loop{}, 1.0, 0.0, 0.0, 1.0, {0.05, 0.55}),
    };
    return r;
}

bool near_kink(const entry& e, double t, double width) {
    for (double k : e.kinks)
        if (std::abs(t - k) < width) return true;
    return false;
}
}  // namespace

TEST_CASE("boundary values alpha(0) and alpha(1) match the closed forms") {
    for (const auto& e : registry()) {
        CAPTURE(e.name);
        CHECK(std::abs(e.alpha(0.0) - e.alpha0) <= 8 * test::eps64);
        CHECK(std::abs(e.alpha(1.0) - e.alpha1) <= 8 * test::eps64);
    }
}

TEST_CASE("alpha is non-increasing in t and stays in [0, 1]") {
    for (const auto& e : registry()) {
        CAPTURE(e.name);
        double prev = e.alpha(0.0);
        for (int i = 1; i <= 2000; ++i) {
            const double t = i / 2000.0;
            const double a = e.alpha(t);
            CHECK(a <= prev + 4 * test::eps64);
            CHECK(a >= 0.0);
            CHECK(a <= 1.0);
            prev = a;
        }
    }
}

TEST_CASE("alpha' agrees with central differences at 50 points") {
    const double h = std::cbrt(test::eps64);
    for (const auto& e : registry()) {
        CAPTURE(e.name);
        for (int j = 0; j < 50; ++j) {
            const double t = (j + 0.37) / 50.0;
            if (near_kink(e, t, 1e-3) || t - h < 0.0 || t + h > 1.0) continue;
            CAPTURE(t);
            const double numeric = (e.alpha(t + h) - e.alpha(t - h)) / (2 * h);
            // |f'''| estimated from the analytic derivative's second difference at spacing d.
            const double d = 1e-3;
            const double f3 = std::abs(e.alpha_prime(t + d) - 2 * e.alpha_prime(t) + e.alpha_prime(t - d)) / (d * d);
            const double tol = 4.0 * test::central_difference_tolerance(1.0, f3 + 1.0);
            CHECK(std::abs(numeric - e.alpha_prime(t)) <= tol);
        }
    }
}

TEST_CASE("t(alpha(t)) round-trips where alpha is strictly decreasing") {
    for (const auto& e : registry()) {
        if (!e.t_of_alpha) continue;
        CAPTURE(e.name);
        for (int j = 0; j <= 100; ++j) {
            const double t = j / 100.0;
            if (t < e.invert_lo || t > e.invert_hi || near_kink(e, t, 1e-9)) continue;
            if (e.name == "remdm_loop" && t > 0.05 && t <= 0.55) continue;  // alpha held constant there
            CAPTURE(t);
            const double a = e.alpha(t);
            // An error of a few ulps in alpha moves t by that much over |alpha'|.
            const double slope = std::abs(e.alpha_prime(t));
            const double tol = 16 * test::eps64 * std::max(1.0, std::abs(a)) / std::max(slope, 1e-300) + 16 * test::eps64;
            CHECK(std::abs(e.t_of_alpha(a) - t) <= tol);
        }
    }
}

TEST_CASE("values match the independent numpy table (tools/schedules/make_schedule_table.py)") {
    std::ifstream in(DDIFF_TEST_DATA "/schedule_table.csv");
    REQUIRE(in.good());
    std::map<std::string, const entry*> by_name;
    for (const auto& e : registry()) by_name[e.name] = &e;
    std::string line;
    std::getline(in, line);
    REQUIRE(line == "schedule,t,alpha,alpha_prime");
    std::size_t rows = 0;
    while (std::getline(in, line)) {
        std::stringstream ss(line);
        std::string name, ts, as, aps;
        std::getline(ss, name, ',');
        std::getline(ss, ts, ',');
        std::getline(ss, as, ',');
        std::getline(ss, aps, ',');
        CAPTURE(line);
        REQUIRE(by_name.count(name) == 1);
        const entry& e = *by_name[name];
        const double t = std::stod(ts), a = std::stod(as);
        // Products of up to T = 40 factors (D3PM) and a trig or exp call: 64 eps relative.
        CHECK(std::abs(e.alpha(t) - a) <= 64 * test::eps64 * std::max(1.0, std::abs(a)));
        if (aps != "nan") {
            const double ap = std::stod(aps);
            CHECK(std::abs(e.alpha_prime(t) - ap) <= 64 * test::eps64 * std::max(1.0, std::abs(ap)));
        }
        ++rows;
    }
    CHECK(rows == 9 * registry().size());
}

TEST_CASE("schedules reject times outside [0, 1] and bad parameters with ddiff::invalid_argument") {
    const log_linear s;
    CHECK_THROWS_WITH_AS(s.alpha(1.5), doctest::Contains("t = 1.5, expected a time in [0, 1]"), invalid_argument);
    CHECK_THROWS_AS(s.alpha(-0.1), invalid_argument);
    CHECK_THROWS_AS(s.alpha(std::nan("")), invalid_argument);
    CHECK_THROWS_AS(s.alpha_prime(2.0), invalid_argument);
    CHECK_THROWS_WITH_AS(log_linear(0.0), doctest::Contains("eps = 0"), invalid_argument);
    CHECK_THROWS_AS(log_linear(-1.0), invalid_argument);
    CHECK_THROWS_AS(mdlm_cosine(1.0), invalid_argument);
    CHECK_THROWS_AS(geometric(1.0, 0.5), invalid_argument);
    CHECK_THROWS_AS(d3pm(d3pm_kind::jsd, 0), invalid_argument);
    CHECK_THROWS_AS(maskgit(maskgit_kind::log, 2.0, 1.0), invalid_argument);
    CHECK_THROWS_AS(remdm_loop(0.05, 0.55, 0.9), invalid_argument);
    CHECK_THROWS_AS(s.t_of_alpha(1e-4), invalid_argument);  // below alpha(1) = eps
}

TEST_CASE("sigma and sigma' default to -log alpha and -alpha'/alpha") {
    const mdlm_cosine c;
    CHECK(sigma(c, 0.3) == doctest::Approx(-std::log(c.alpha(0.3))).epsilon(1e-14));
    CHECK(sigma_prime(c, 0.3) == doctest::Approx(-c.alpha_prime(0.3) / c.alpha(0.3)).epsilon(1e-14));
    // log-linear: sigma' = (1 - eps) / (1 - (1 - eps) t) (SEDD LogLinearNoise.rate_noise).
    const log_linear l;
    CHECK(sigma_prime(l, 0.5) == doctest::Approx(0.999 / (1 - 0.999 * 0.5)).epsilon(1e-15));
    // D3PM JSD: alpha_bar_k = 1 - k / T exactly.
    const d3pm j(d3pm_kind::jsd, 40);
    for (std::size_t k = 0; k <= 40; ++k) CHECK(std::abs(j.alpha_bar(k) - (1.0 - k / 40.0)) <= 64 * test::eps64);
}
