// The decoder of the uniform-noise oracle, compiled here once.
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<session::uniform_model>(session::uniform_model&, decode_job, any_uniform_sampler);
}  // namespace ddiff::runtime
