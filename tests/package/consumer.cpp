// A downstream program: includes the umbrella header, samples from an exact oracle.
#include <ddiff/ddiff.hpp>

#include <iostream>

int main() {
    const auto tc = ddiff::oracle::fit_text("abracadabra abracadabra");
    const auto x = tc.chain.sample(8, ddiff::counter_rng(1));
    const ddiff::schedule::log_linear s;
    std::cout << "alpha(0.5) = " << s.alpha(0.5) << ", sample:";
    for (auto v : x) std::cout << ' ' << tc.decode(v);
    std::cout << '\n';
    return s.alpha(0.5) > 0.0 && x.size() == 8 ? 0 : 1;
}
