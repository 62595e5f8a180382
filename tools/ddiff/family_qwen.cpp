// The Qwen-family checkpoint families (a2d-qwen3, SDAR, Fast-dLLM v2; and the models they
// instantiate), compiled on their own.
#include <ddiff/runtime/families/qwen.hpp>

#include "families.hpp"

namespace ddiff::cli {

std::span<const runtime::checkpoint_family> qwen_families() { return runtime::families::qwen; }

}  // namespace ddiff::cli
