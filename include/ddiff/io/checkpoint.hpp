// Hugging Face checkpoint directories: one model.safetensors, or the shards listed by
// model.safetensors.index.json, all opened and cross-checked before any tensor is used.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/safetensors.hpp"

namespace ddiff::io {

// The file names transformers' save_pretrained writes (SAFE_WEIGHTS_NAME and
// SAFE_WEIGHTS_INDEX_NAME in transformers/utils/constants.py).
inline constexpr std::string_view safetensors_single_name = "model.safetensors";
inline constexpr std::string_view safetensors_index_name = "model.safetensors.index.json";

// One line of an index's weight_map.
struct weight_map_entry {
    std::string tensor;
    std::string shard;  // a file name in the index's directory
};

// Parses the text of a model.safetensors.index.json:
//   {"metadata": {"total_size": ...}, "weight_map": {tensor name: shard file name}}
// "metadata" is optional (an object, contents not used); other top-level keys are ignored, as
// transformers does. format_error for malformed JSON, duplicate keys, a missing or empty
// weight_map, a non-string shard, or a shard name that is not a plain file name (no directory
// part, so an index cannot point outside its directory). Sorted by tensor name.
inline std::vector<weight_map_entry> parse_weight_map(std::string_view text, const std::string& source) {
    using ddiff::detail::fail;
    const nlohmann::json j = detail::parse_json_strict(text, source);
    if (!j.is_object())
        fail<format_error>(source, ": top-level JSON value is ", detail::describe(j), ", expected an object with a weight_map");
    if (const auto m = j.find("metadata"); m != j.end() && !m->is_object())
        fail<format_error>(source, ": metadata is ", detail::describe(*m), ", expected an object");
    const auto wm = j.find("weight_map");
    if (wm == j.end()) fail<format_error>(source, ": missing key \"weight_map\"");
    if (!wm->is_object())
        fail<format_error>(source, ": weight_map is ", detail::describe(*wm), ", expected an object {tensor: shard file}");
    if (wm->empty()) fail<format_error>(source, ": weight_map is empty, expected at least one tensor");

    std::vector<weight_map_entry> out;
    out.reserve(wm->size());
    for (const auto& [tensor, shard] : wm->items()) {
        if (!shard.is_string())
            fail<format_error>(source, ": weight_map[", detail::quote_str(tensor), "] is ", detail::describe(shard),
                               ", expected a shard file name");
        const auto& name = shard.get_ref<const std::string&>();
        if (name.empty() || name == "." || name == ".." || name.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
            fail<format_error>(source, ": weight_map[", detail::quote_str(tensor), "] = ", detail::quote_str(name),
                               ", expected a plain file name in the index's directory");
        out.push_back({tensor, name});
    }
    return out;  // nlohmann objects iterate in key order
}

// A checkpoint: every tensor of one or several safetensors files, looked up by name.
// Copies share the mappings; tensor_refs and views stay valid while any copy lives.
class checkpoint : public tensor_access<checkpoint> {
public:
    // `path` is a directory (model.safetensors is used when present, as transformers prefers it,
    // else model.safetensors.index.json), an index .json file, or a .safetensors file.
    // io_error when nothing loadable is there or a shard is missing; format_error when any file
    // is invalid or the index disagrees with the shards: a mapped tensor absent from its shard,
    // a tensor in two shards, or a shard tensor the index does not list.
    static checkpoint open(const std::filesystem::path& path) {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            if (fs::exists(path / safetensors_single_name, ec)) return open_single(path / safetensors_single_name);
            if (fs::exists(path / safetensors_index_name, ec)) return open_sharded(path / safetensors_index_name);
            ddiff::detail::fail<io_error>("cannot load checkpoint '", path.string(), "': the directory has neither ",
                                          safetensors_single_name, " nor ", safetensors_index_name);
        }
        if (path.extension() == ".json") return open_sharded(path);
        return open_single(path);
    }

    // What was loaded: the .safetensors file or the index.
    const std::filesystem::path& path() const noexcept { return path_; }
    bool sharded() const noexcept { return sharded_; }
    // The files, sorted by name (one for an unsharded checkpoint).
    std::span<const safetensors_file> shards() const noexcept { return shards_; }

    std::size_t size() const noexcept { return entries_.size(); }
    // Every tensor name, sorted.
    std::vector<std::string_view> names() const {
        std::vector<std::string_view> out;
        out.reserve(entries_.size());
        for (const auto& e : entries_) out.push_back(e.name);
        return out;
    }
    // Binary search: no allocation.
    const tensor_info* find(std::string_view name) const noexcept {
        const entry* e = find_entry(name);
        return e ? e->info : nullptr;
    }
    bool contains(std::string_view name) const noexcept { return find_entry(name) != nullptr; }
    tensor_ref tensor(std::string_view name) const {
        const entry& e = get_entry(name);
        return shards_[e.shard].tensor(*e.info);
    }
    // Drops the tensor's pages from the resident set once its data has been copied or packed
    // (safetensors_file::release); the tensor stays readable.
    void release(const tensor_ref& t) const noexcept {
        for (const auto& s : shards_) s.release(t);
    }
    // The file that holds `name`.
    const safetensors_file& shard_of(std::string_view name) const { return shards_[get_entry(name).shard]; }

private:
    struct entry {
        std::string_view name;    // points into the shard's tensor_info (stable heap state)
        std::uint32_t shard;
        const tensor_info* info;
    };

    checkpoint() = default;

    const entry* find_entry(std::string_view name) const noexcept {
        const auto it = std::ranges::lower_bound(entries_, name, {}, &entry::name);
        return it != entries_.end() && it->name == name ? &*it : nullptr;
    }
    const entry& get_entry(std::string_view name) const {
        const entry* e = find_entry(name);
        if (!e)
            ddiff::detail::fail<format_error>(path_.string(), ": no tensor ", detail::quote_str(name), " (the checkpoint has ",
                                              entries_.size(), " tensors)");
        return *e;
    }

    static checkpoint open_single(const std::filesystem::path& file) {
        checkpoint c;
        c.path_ = file;
        c.sharded_ = false;
        c.shards_.push_back(safetensors_file::open(file));
        for (const auto& t : c.shards_[0].tensors()) c.entries_.push_back({t.name, 0, &t});
        return c;  // already sorted by name
    }

    static checkpoint open_sharded(const std::filesystem::path& index) {
        using ddiff::detail::fail;
        const std::string src = index.string();
        const auto map = parse_weight_map(detail::read_text_file(index), src);

        checkpoint c;
        c.path_ = index;
        c.sharded_ = true;
        std::vector<std::string> files;
        for (const auto& m : map) files.push_back(m.shard);
        std::ranges::sort(files);
        files.erase(std::unique(files.begin(), files.end()), files.end());
        c.shards_.reserve(files.size());
        for (const auto& f : files) c.shards_.push_back(safetensors_file::open(index.parent_path() / f));

        for (std::uint32_t s = 0; s < c.shards_.size(); ++s)
            for (const auto& t : c.shards_[s].tensors()) c.entries_.push_back({t.name, s, &t});
        std::ranges::stable_sort(c.entries_, {}, &entry::name);  // equal names keep shard order
        for (std::size_t i = 1; i < c.entries_.size(); ++i)
            if (c.entries_[i].name == c.entries_[i - 1].name)
                fail<format_error>(src, ": tensor ", detail::quote_str(c.entries_[i].name), " is in both ",
                                   files[c.entries_[i - 1].shard], " and ", files[c.entries_[i].shard],
                                   ", expected each tensor in one shard");

        // Both lists are sorted by name: every weight_map line must match a stored tensor in the
        // shard it names, and nothing may be stored that the map does not list.
        for (const auto& m : map) {
            const entry* e = c.find_entry(m.tensor);
            if (!e)
                fail<format_error>(src, ": weight_map maps tensor ", detail::quote_str(m.tensor), " to ", m.shard,
                                   ", but ", m.shard, " has no such tensor");
            if (files[e->shard] != m.shard)
                fail<format_error>(src, ": weight_map maps tensor ", detail::quote_str(m.tensor), " to ", m.shard,
                                   ", but it is stored in ", files[e->shard]);
        }
        if (c.entries_.size() != map.size())
            for (const auto& e : c.entries_)
                if (!std::ranges::binary_search(map, e.name, {}, [](const weight_map_entry& m) { return std::string_view(m.tensor); }))
                    fail<format_error>(src, ": shard ", files[e.shard], " holds tensor ", detail::quote_str(e.name),
                                       ", which weight_map does not list");
        return c;
    }

    std::vector<safetensors_file> shards_;
    std::vector<entry> entries_;  // sorted by name
    std::filesystem::path path_;
    bool sharded_ = false;
};

}  // namespace ddiff::io
