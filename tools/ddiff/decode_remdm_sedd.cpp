// Explicit instantiations of the decode for some step rules: the program's decoders are spread
// over decode_*.cpp so that a parallel build compiles them at once (the registry's lists,
// ddiff/runtime/registry.hpp; a rule missing here is a link error).
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<any_model, sampler::remdm_cap>(any_model&, decode_job, sampler::remdm_cap);
template decode_result run_decode<any_model, sampler::remdm_rescale>(any_model&, decode_job, sampler::remdm_rescale);
template decode_result run_decode<any_model, sampler::remdm_conf>(any_model&, decode_job, sampler::remdm_conf);
template decode_result run_decode<any_model, sampler::remdm_loop>(any_model&, decode_job, sampler::remdm_loop);
template decode_result run_decode<any_model, sampler::sedd_euler<>>(any_model&, decode_job, sampler::sedd_euler<>);
template decode_result run_decode<any_model, sampler::sedd_analytic<>>(any_model&, decode_job, sampler::sedd_analytic<>);
}  // namespace ddiff::runtime
