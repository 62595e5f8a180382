// Every architecture ddiff opens, in one table, and open_model(options) over it. Including this
// header instantiates every model; a program that wants a parallel build opens them through
// runtime/checkpoint.hpp's open_model(options, families) with one family header per
// translation unit instead (as tools/ddiff does).
#pragma once

#include <span>
#include <vector>

#include "ddiff/runtime/checkpoint.hpp"
#include "ddiff/runtime/codec.hpp"
#include "ddiff/runtime/families/dit.hpp"
#include "ddiff/runtime/families/dream.hpp"
#include "ddiff/runtime/families/llada.hpp"
#include "ddiff/runtime/families/qwen.hpp"

namespace ddiff::runtime {

inline std::span<const checkpoint_family> builtin_families() {
    static const std::vector<checkpoint_family> all = [] {
        std::vector<checkpoint_family> v;
        for (auto table : {std::span<const checkpoint_family>(families::llada),
                           std::span<const checkpoint_family>(families::dream),
                           std::span<const checkpoint_family>(families::dit),
                           std::span<const checkpoint_family>(families::qwen)})
            v.insert(v.end(), table.begin(), table.end());
        return v;
    }();
    return all;
}

// Opens the model named by o.model with every built-in architecture and its tokenizer
// (checkpoint.hpp, codec.hpp).
inline opened_model open_model(model_options o) { return open_model(std::move(o), builtin_families(), &open_codec); }

}  // namespace ddiff::runtime
