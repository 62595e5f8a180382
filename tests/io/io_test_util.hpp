// Helpers for the io/ tests: hand-built safetensors bytes, scratch directories, and a check that
// an expression throws one exact ddiff exception type whose message contains given parts.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "ddiff/core/error.hpp"

namespace ddiff::test {

// A safetensors file from a header given verbatim (so it can be as wrong as a test needs) and
// `data_bytes` bytes of data buffer (filled with 0x11). `length_override` replaces the u64 N.
inline std::vector<std::byte> raw_safetensors(std::string_view header, std::size_t data_bytes,
                                              std::optional<std::uint64_t> length_override = std::nullopt) {
    std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0x11});
    const std::uint64_t n = length_override.value_or(header.size());
    std::memcpy(out.data(), &n, 8);  // little-endian host (static_assert in safetensors.hpp)
    std::memcpy(out.data() + 8, header.data(), header.size());
    return out;
}

// A directory under the system temp dir, removed with its contents at scope exit. Unique per
// process and instance: other test binaries may run at the same time.
class scratch_dir {
public:
    scratch_dir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("ddiff_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, std::span<const std::byte> bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}
inline void write_text(const std::filesystem::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

// Runs f, which must throw exactly an E (not merely some ddiff::error) whose message contains
// every one of `parts`. Returns the message (empty if nothing or something else was thrown).
template <class E, class F>
std::string check_throws(F&& f, std::initializer_list<std::string_view> parts) {
    try {
        f();
    } catch (const E& e) {
        const std::string msg = e.what();
        for (std::string_view p : parts) {
            INFO("message: " << msg);
            CHECK_MESSAGE(msg.find(p) != std::string::npos, "missing part: " << p);
        }
        return msg;
    } catch (const std::exception& e) {
        FAIL_CHECK("threw the wrong type: " << e.what());
        return {};
    }
    FAIL_CHECK("did not throw");
    return {};
}

}  // namespace ddiff::test
