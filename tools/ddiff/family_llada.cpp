// The llada checkpoint families (and the model they instantiate), compiled on their own.
#include <ddiff/runtime/families/llada.hpp>

#include "families.hpp"

namespace ddiff::cli {

std::span<const runtime::checkpoint_family> llada_families() { return runtime::families::llada; }

}  // namespace ddiff::cli
