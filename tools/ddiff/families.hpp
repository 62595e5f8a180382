// The architectures the program opens, one translation unit each (family_*.cpp), so that a
// 2-core build compiles the models in parallel; session.cpp puts them in one table.
#pragma once

#include <span>

#include <ddiff/runtime/checkpoint.hpp>

namespace ddiff::cli {

std::span<const runtime::checkpoint_family> llada_families();
std::span<const runtime::checkpoint_family> dream_families();
std::span<const runtime::checkpoint_family> dit_families();
std::span<const runtime::checkpoint_family> qwen_families();

}  // namespace ddiff::cli
