// Explicit instantiations of the decode for some step rules: the program's decoders are spread
// over decode_*.cpp so that a parallel build compiles them at once (the registry's lists,
// ddiff/runtime/registry.hpp; a rule missing here is a link error).
#include <ddiff/runtime/decode.hpp>

namespace ddiff::runtime {
template decode_result run_decode<any_model, sampler::top_k>(any_model&, decode_job, sampler::top_k);
template decode_result run_decode<any_model, sampler::dream_count>(any_model&, decode_job, sampler::dream_count);
template decode_result run_decode<any_model, sampler::schedule_count<false>>(any_model&, decode_job, sampler::schedule_count<false>);
template decode_result run_decode<any_model, sampler::schedule_count<true>>(any_model&, decode_job, sampler::schedule_count<true>);
template decode_result run_decode<any_model, sampler::maskgit>(any_model&, decode_job, sampler::maskgit);
template decode_result run_decode<any_model, sampler::ancestral>(any_model&, decode_job, sampler::ancestral);
}  // namespace ddiff::runtime
