// run_decode<Model>: one decode of a session, its policies chosen at run time. Each instantiation
// compiles a whole decoder, so a program may put it in a translation unit of its own
// (tools/ddiff/decode_*.cpp); runtime/all.hpp includes this for programs that do not care.
#pragma once

#include "ddiff/decoder/decoder.hpp"
#include "ddiff/runtime/session.hpp"

namespace ddiff::runtime {

template <class Model>
decode_result run_decode(Model& model, decode_job job, sampler_for<Model> sampler) {
    decoder<Model, any_schedule, any_remask, sampler_for<Model>> dec(model, std::move(job.schedule), std::move(job.remask),
                                                          std::move(sampler));
    const std::size_t L = job.infill ? job.canvas.shape(1) : job.canvas.shape(1) + job.options.gen_length;
    auto observe = [&](const step_record& r) {
        if (!job.callback) return true;
        const step_event e{.row = r.row,
                           .step = r.step,
                           .block = r.block,
                           .canvas = std::span<const token_id>(r.canvas->data() + r.row * L, L),
                           .committed = r.committed,
                           .nfe = r.nfe,
                           .forward_seconds = r.forward_seconds};
        return (*job.callback)(e);
    };
    generate_result g;
    if constexpr (Model::noise == noise_kind::absorbing) {
        g = job.infill ? dec.infill(std::move(job.canvas), job.options, observe)
                       : dec.generate(job.canvas, job.options, observe);
    } else {
        g = dec.generate(job.canvas, job.options, observe);
    }
    decode_result r;
    r.tokens = std::move(g.tokens);
    r.nfe = g.nfe;
    r.steps = g.steps;
    r.forward_seconds = g.forward_seconds;
    r.select_seconds = g.select_seconds;
    r.cancelled = std::move(g.cancelled);
    r.length = std::move(g.length);
    return r;
}

}  // namespace ddiff::runtime
