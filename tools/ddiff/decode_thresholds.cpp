// Explicit instantiations of the decode for some step rules: the program's decoders are spread
// over decode_*.cpp so that a parallel build compiles them at once (the registry's lists,
// ddiff/runtime/registry.hpp; a rule missing here is a link error).
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<any_model, sampler::threshold>(any_model&, decode_job, sampler::threshold);
template decode_result run_decode<any_model, sampler::factor>(any_model&, decode_job, sampler::factor);
template decode_result run_decode<any_model, sampler::entropy_bounded>(any_model&, decode_job, sampler::entropy_bounded);
template decode_result run_decode<any_model, sampler::first_hitting>(any_model&, decode_job, sampler::first_hitting);
template decode_result run_decode<any_model, sampler::dinfer_threshold>(any_model&, decode_job, sampler::dinfer_threshold);
template decode_result run_decode<any_model, sampler::dinfer_hierarchical>(any_model&, decode_job, sampler::dinfer_hierarchical);
}  // namespace ddiff::runtime
