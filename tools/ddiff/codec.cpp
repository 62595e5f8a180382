// The tokenizer engine (runtime/codec.hpp: tokenizer.json, character vocabularies, GGUF
// metadata, chat templates), instantiated here only.
#include <ddiff/runtime/codec.hpp>

#include "commands.hpp"

namespace ddiff::cli {

std::unique_ptr<runtime::text_codec> open_codec(const runtime::model_options& o) { return runtime::open_codec(o); }

}  // namespace ddiff::cli
