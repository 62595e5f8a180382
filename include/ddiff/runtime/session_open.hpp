// session::open: the model opener (runtime/models.hpp: every architecture) behind the session. Include it in
// the one translation unit of a program that opens models (it instantiates every model).
#pragma once

#include "ddiff/runtime/models.hpp"
#include "ddiff/runtime/session.hpp"

namespace ddiff::runtime {

inline session session::open(const model_options& o) {
    auto m = open_model(o);
    return session(std::move(m.info), std::move(m.absorbing), std::move(m.uniform), std::move(m.codec), o.threads);
}

}  // namespace ddiff::runtime
