// The dit checkpoint families (and the model they instantiate), compiled on their own.
#include <ddiff/runtime/families/dit.hpp>

#include "families.hpp"

namespace ddiff::cli {

std::span<const runtime::checkpoint_family> dit_families() { return runtime::families::dit; }

}  // namespace ddiff::cli
