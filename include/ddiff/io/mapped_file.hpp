// A read-only memory mapping of a whole file (POSIX mmap), so weights are paged in on demand
// and shared with the page cache instead of copied.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddiff/core/error.hpp"

namespace ddiff::io {

// Move-only owner of a PROT_READ, MAP_PRIVATE mapping. The bytes stay valid until the object is
// destroyed. Caveat of every mmap reader: if another process truncates the file while it is
// mapped, touching the lost pages raises SIGBUS; ddiff does not guard against that.
class mapped_file {
public:
    mapped_file() = default;

    // Throws io_error when the file cannot be opened, is not a regular file or cannot be mapped.
    explicit mapped_file(const std::filesystem::path& path) {
        const std::string name = path.string();
        const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail_errno("cannot open", name);
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            fail_errno("cannot stat", name, e);
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            ddiff::detail::fail<io_error>("cannot map '", name, "': not a regular file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        // mmap of length 0 fails with EINVAL; an empty file is an empty span (the parser then
        // reports it as too short).
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const int e = errno;
                ::close(fd);
                size_ = 0;
                fail_errno("cannot mmap", name, e);
            }
            addr_ = p;
        }
        ::close(fd);  // the mapping keeps its own reference to the file
    }

    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    mapped_file(mapped_file&& o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    mapped_file& operator=(mapped_file&& o) noexcept {
        if (this != &o) {
            unmap();
            addr_ = std::exchange(o.addr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~mapped_file() { unmap(); }

    // The whole file; page-aligned start.
    std::span<const std::byte> bytes() const noexcept {
        return {static_cast<const std::byte*>(addr_), addr_ ? size_ : 0};
    }
    std::size_t size() const noexcept { return addr_ ? size_ : 0; }

    // Drops the whole pages inside `part` (which must lie in bytes(); anything else is ignored)
    // from the process's resident set: MADV_DONTNEED on this read-only private file mapping
    // never changes the bytes, a later read pages them in again from the page cache. Loaders
    // call it on a tensor once it is packed, so loading never holds the file and the packed
    // copy at once.
    void release(std::span<const std::byte> part) const noexcept {
        if (!addr_ || part.empty()) return;
        const auto lo = reinterpret_cast<std::uintptr_t>(addr_);
        auto b = reinterpret_cast<std::uintptr_t>(part.data());
        auto e = b + part.size();
        if (b < lo || e > lo + size_) return;
        const long ps = ::sysconf(_SC_PAGESIZE);
        const std::uintptr_t page = ps > 0 ? static_cast<std::uintptr_t>(ps) : 4096u;
        b = (b + page - 1) / page * page;
        e = e / page * page;
        if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
    }

private:
    [[noreturn]] static void fail_errno(const char* what, const std::string& name, int e = errno) {
        ddiff::detail::fail<io_error>(what, " '", name, "': ", std::strerror(e), " (errno ", e, ")");
    }
    void unmap() noexcept {
        if (addr_) ::munmap(addr_, size_);
        addr_ = nullptr;
        size_ = 0;
    }

    void* addr_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace ddiff::io
