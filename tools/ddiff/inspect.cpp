// ddiff inspect: what a checkpoint's files say (GGUF metadata, config.json, tensor types and
// sizes, the tokenizer), the weights not loaded.
#include <ddiff/io/checkpoint.hpp>
#include <ddiff/model/gguf.hpp>
#include <ddiff/io/config.hpp>
#include <ddiff/runtime/options.hpp>

#include <filesystem>
#include <map>
#include <sstream>

#include "commands.hpp"

namespace ddiff::cli {

namespace {
std::string human_bytes(double b) {
    std::ostringstream os;
    os.precision(3);
    if (b >= 1e9) os << b / 1e9 << " GB";
    else if (b >= 1e6) os << b / 1e6 << " MB";
    else os << b / 1e3 << " kB";
    return os.str();
}
}  // namespace

std::string describe_model(const std::string& spec) {
    std::ostringstream os;
    const std::filesystem::path p(spec);
    runtime::model_options mo;
    mo.model = spec;
    if (std::filesystem::is_regular_file(p) && p.extension() == ".gguf") {
        const auto f = io::gguf_file::open(p);
        const auto s = model::inspect_gguf(f);
        os << "file: " << spec << " (GGUF v" << s.version << ", " << human_bytes(double(s.file_bytes)) << ")\n"
           << "architecture: " << s.architecture << (s.name.empty() ? "" : " (" + s.name + ")") << "\n"
           << "hyperparameters:\n";
        for (const auto& [k, v] : s.hyperparameters) os << "  " << k << " = " << v << "\n";
        os << "tensors: " << s.tensors << "\n";
        for (const auto& [t, n] : s.tensor_types) os << "  " << t << ": " << n << "\n";
    } else if (std::filesystem::exists(p / "config.json")) {
        const auto cfg = io::json_config::load(p / "config.json");
        const auto ck = io::checkpoint::open(p);
        std::map<std::string, std::pair<std::size_t, double>> types;  // dtype -> (tensors, bytes)
        double total = 0;
        for (auto name : ck.names()) {
            const auto t = ck.tensor(name);
            auto& e = types[std::string(io::dtype_name(t.type()))];
            ++e.first;
            e.second += double(t.bytes().size());
            total += double(t.bytes().size());
        }
        os << "directory: " << spec << " (safetensors, " << human_bytes(total) << " of weights)\n"
           << "architecture: " << cfg.get<std::string>("model_type", cfg.has_value("model") ? "sedd" : "(none)") << "\n"
           << "config.json:\n";
        for (const auto& [k, v] : cfg.json().items())
            if (!v.is_object() && !v.is_array()) os << "  " << k << " = " << v.dump() << "\n";
        os << "tensors: " << ck.names().size() << "\n";
        for (const auto& [t, e] : types) os << "  " << t << ": " << e.first << " (" << human_bytes(e.second) << ")\n";
    } else {
        throw runtime::option_error("model", spec, "a checkpoint directory with config.json or a .gguf file");
    }
    const auto codec = open_codec(mo);
    os << "tokenizer: " << (codec ? codec->describe() : "none (ids only)")
       << (codec && codec->has_chat_template() ? ", with a chat template" : "") << "\n";
    return os.str();
}

}  // namespace ddiff::cli
