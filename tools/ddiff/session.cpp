// Opening models: the dispatch of runtime/checkpoint.hpp over the program's architecture table
// (each architecture compiled in its own family_*.cpp) and its tokenizer (codec.cpp).
#include <ddiff/runtime/checkpoint.hpp>

#include <vector>

#include "commands.hpp"
#include "families.hpp"

namespace ddiff::cli {

namespace {
std::span<const runtime::checkpoint_family> families() {
    static const std::vector<runtime::checkpoint_family> all = [] {
        std::vector<runtime::checkpoint_family> v;
        for (auto table : {llada_families(), dream_families(), dit_families(), qwen_families()}) v.insert(v.end(), table.begin(), table.end());
        return v;
    }();
    return all;
}
}  // namespace

runtime::session open_session(const runtime::model_options& o) {
    auto m = runtime::open_model(o, families(), &open_codec);
    return runtime::session(std::move(m.info), std::move(m.absorbing), std::move(m.uniform), std::move(m.codec),
                            o.threads);
}

}  // namespace ddiff::cli
