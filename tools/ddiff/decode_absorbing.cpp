// The decoder of absorbing-noise models (checkpoints, the absorbing oracle), compiled here once.
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<any_model>(any_model&, decode_job, any_absorbing_sampler);
}  // namespace ddiff::runtime
