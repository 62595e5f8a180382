// Explicit instantiations of the decode for some step rules: the program's decoders are spread
// over decode_*.cpp so that a parallel build compiles them at once (the registry's lists,
// ddiff/runtime/registry.hpp; a rule missing here is a link error).
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<session::uniform_model, sampler::duo>(session::uniform_model&, decode_job, sampler::duo);
template decode_result run_decode<session::uniform_model, sampler::duo_greedy>(session::uniform_model&, decode_job, sampler::duo_greedy);
template decode_result run_decode<session::uniform_model, sampler::sedd_euler<noise_kind::uniform>>(session::uniform_model&, decode_job, sampler::sedd_euler<noise_kind::uniform>);
template decode_result run_decode<session::uniform_model, sampler::sedd_analytic<noise_kind::uniform>>(session::uniform_model&, decode_job, sampler::sedd_analytic<noise_kind::uniform>);
}  // namespace ddiff::runtime
