// The dream checkpoint families (and the model they instantiate), compiled on their own.
#include <ddiff/runtime/families/dream.hpp>

#include "families.hpp"

namespace ddiff::cli {

std::span<const runtime::checkpoint_family> dream_families() { return runtime::families::dream; }

}  // namespace ddiff::cli
