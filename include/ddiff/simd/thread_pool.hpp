// Transitional: the thread pool moved to core/thread_pool.hpp (ddiff::thread_pool; core/ is the
// bottom layer, so every layer may use it). This alias keeps code written against the old name
// compiling until it includes core/thread_pool.hpp; remove it then.
#pragma once

#include "ddiff/core/thread_pool.hpp"

namespace ddiff::simd {
using ddiff::thread_pool;
}  // namespace ddiff::simd
