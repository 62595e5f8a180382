// Writes the seed corpora for the fuzzers (scripts/fuzz.sh runs it; nothing binary is committed):
//   <out>/safetensors/  small valid files from the writer: every dtype, metadata, scalars,
//                       empty tensors, an empty header, odd header padding
//   <out>/config/       the committed config.json and index files plus a few hand-written ones
//   <out>/tokenizer_json/, tokenizer_encode/, chat_template/: the synthetic tokenizer.json files,
//                       the tokenizer corpus lines, the committed chat templates
// usage: fuzz_make_seeds <out dir>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "../support/safetensors_writer.hpp"
#include <nlohmann/json.hpp>

#include "ddiff/io/safetensors.hpp"

using namespace ddiff::io;
using ddiff::test::serialize_safetensors;
using ddiff::test::tensor_data;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::vector<std::byte>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void write(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_make_seeds <out dir>\n";
        return 2;
    }
    const fs::path out = argv[1];
    fs::create_directories(out / "safetensors");
    fs::create_directories(out / "config");

    const auto st = out / "safetensors";
    write(st / "every_dtype.safetensors",
          serialize_safetensors(
              {tensor_data::from("f32", {2, 3}, std::vector<float>{1.5f, -2, 0, 3.25f, -0.0f, 1e-40f}),
               tensor_data::from("f64", {2}, std::vector<double>{0.1, -1e300}),
               tensor_data::from("f16", {2}, std::vector<f16>{{0x3c00}, {0x7e00}}),
               tensor_data::from("bf16", {2, 1}, std::vector<bf16>{{0x3f80}, {0x0001}}),
               tensor_data::from("i64", {1}, std::vector<std::int64_t>{-5}),
               tensor_data::from("i32", {1}, std::vector<std::int32_t>{7}),
               tensor_data::from("i16", {1}, std::vector<std::int16_t>{-3}),
               tensor_data::from("i8", {2}, std::vector<std::int8_t>{-1, 1}),
               tensor_data::from("u8", {2}, std::vector<std::uint8_t>{0, 255}),
               tensor_data{"bool", dtype::boolean, {2}, {std::byte{0}, std::byte{1}}}},
              {{"format", "pt"}}));
    write(st / "scalar_and_empty.safetensors",
          serialize_safetensors({tensor_data::from("s", {}, std::vector<float>{7}),
                                 tensor_data::from("e", {0, 3}, std::vector<float>{})}));
    write(st / "weights.safetensors",
          serialize_safetensors({tensor_data::from("model.embed_tokens.weight", {4, 2}, std::vector<float>(8, 0.5f)),
                                 tensor_data::from("model.norm.weight", {2}, std::vector<bf16>{{0x3f80}, {0x4000}})},
                                {{"format", "pt"}, {"note", "seed"}}));
    write(st / "empty_header.safetensors", serialize_safetensors({}));
    {
        // Unpadded header, data not 8-aligned: exercises the copying view path.
        const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        std::vector<std::byte> b(8 + h.size() + 8, std::byte{0x3f});
        const std::uint64_t n = h.size();
        std::memcpy(b.data(), &n, 8);
        std::memcpy(b.data() + 8, h.data(), h.size());
        write(st / "unpadded.safetensors", b);
    }

    const auto cfg = out / "config";
    const fs::path data = DDIFF_TEST_DATA;
    int copied = 0;
    for (const auto& e : fs::recursive_directory_iterator(data / "models"))
        if (e.is_regular_file() && e.path().extension() == ".json") {
            fs::copy_file(e.path(), cfg / (e.path().parent_path().filename().string() + "_" + e.path().filename().string()),
                          fs::copy_options::overwrite_existing);
            ++copied;
        }
    write(cfg / "nested.json",
          R"({"rope_scaling": {"type": "linear", "factor": 2.0, "dims": [1, 2, 3]}, "n": -1, "u": 18446744073709551615,
              "f": 1e38, "b": true, "s": "x", "a": [[1.5, 2], [3]], "z": null})");
    write(cfg / "index.json", R"({"metadata": {"total_size": 8}, "weight_map": {"a": "x.safetensors", "b": "y.safetensors"}})");
    // GGUF: the committed quants.gguf (every supported type, string arrays, every scalar type).
    const auto gg = out / "gguf";
    fs::create_directories(gg);
    fs::copy_file(data / "gguf" / "quants.gguf", gg / "quants.gguf", fs::copy_options::overwrite_existing);
    // Tokenizer seeds: the committed synthetic tokenizer.json files, the corpus lines, the templates.
    fs::create_directories(out / "tokenizer_json");
    fs::create_directories(out / "tokenizer_encode");
    fs::create_directories(out / "chat_template");
    for (const auto& e : fs::directory_iterator(data / "tokenizer" / "synthetic"))
        fs::copy_file(e.path(), out / "tokenizer_json" / e.path().filename(), fs::copy_options::overwrite_existing);
    write(out / "tokenizer_json" / "minimal.json",
          R"({"version": "1.0", "added_tokens": [{"id": 3, "content": "<s>", "special": true, "lstrip": true}],
              "normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "Metaspace", "replacement": "_", "prepend_scheme": "first"},
              "post_processor": {"type": "RobertaProcessing", "sep": ["<s>", 3], "cls": ["<s>", 3]},
              "decoder": {"type": "Sequence", "decoders": [{"type": "Strip", "content": " ", "start": 1, "stop": 1}]},
              "model": {"type": "BPE", "byte_fallback": true, "unk_token": "a", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}})");
    {
        std::ifstream in(data / "tokenizer" / "corpus.jsonl");
        std::string line;
        int k = 0;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line);
            std::string bytes;
            if (j.contains("hex")) {
                const auto hex = j["hex"].get<std::string>();
                for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
            } else {
                bytes = j["text"].get<std::string>();
            }
            write(out / "tokenizer_encode" / ("line" + std::to_string(k++)), bytes);
        }
    }
    for (const auto& e : fs::directory_iterator(data / "tokenizer" / "chat"))
        if (e.path().extension() == ".jinja")
            fs::copy_file(e.path(), out / "chat_template" / e.path().filename(), fs::copy_options::overwrite_existing);
    // ddiff serve's request bodies: the first byte picks the endpoint (0 completions, 1 chat).
    fs::create_directories(out / "server_request");
    const char* bodies[] = {
        "0{\"prompt\": \"in the beginning\", \"max_tokens\": 16, \"steps\": 16, \"seed\": 3}",
        "0{\"prompt\": [1, 2, 3], \"max_tokens\": 8, \"steps\": 4, \"block_length\": 4, \"sampler\": \"threshold\", "
        "\"threshold\": 0.9, \"remask\": \"random\", \"n\": 2, \"stop\": [\"and\", \".\"], \"stream\": true, "
        "\"stream_options\": {\"include_usage\": true}, \"stream_canvas\": true, \"return_tokens\": true}",
        "0{\"prompt\": \"in the b\", \"suffix\": \"ing god\", \"max_tokens\": 4, \"steps\": 2, \"echo\": true, "
        "\"cache\": \"dual\", \"temperature\": 0.5, \"top_p\": 0.9, \"top_k\": 5, \"eos_ids\": [37], \"suppress_eos\": true}",
        "1{\"model\": \"fuzz-model\", \"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, "
        "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}], \"max_completion_tokens\": 8, "
        "\"logprobs\": false, \"tool_choice\": \"none\", \"response_format\": {\"type\": \"text\"}}",
        "1{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"sampler\": \"remdm_loop\", \"schedule\": \"remdm_loop\", "
        "\"steps\": 32, \"max_tokens\": 16, \"alg_temp\": 0.1, \"cfg_scale\": 1.5}",
    };
    int b = 0;
    for (const char* body : bodies) write(out / "server_request" / ("body" + std::to_string(b++) + ".json"), std::string(body));
    std::cout << "seeds written to " << out << " (" << copied << " committed json files)\n";
    return 0;
}
