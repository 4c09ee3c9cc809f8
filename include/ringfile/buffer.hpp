#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ringfile/export.hpp"

namespace ringfile {

// An owning, aligned, zero-filled byte buffer for O_DIRECT I/O, whose address,
// length and file offset must all be multiples of File::direct_alignment().
class RINGFILE_API AlignedBuffer {
 public:
  AlignedBuffer() noexcept = default;
  // Throws std::bad_alloc when memory is exhausted; alignment must be a power of two.
  AlignedBuffer(std::size_t size, std::size_t alignment = 4096);
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t alignment() const noexcept { return alignment_; }
  std::span<std::byte> span() noexcept { return {data_, size_}; }
  std::span<const std::byte> span() const noexcept { return {data_, size_}; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t alignment_ = 0;
};

}  // namespace ringfile
