#include "ringfile/buffer.hpp"

#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace ringfile {

AlignedBuffer::AlignedBuffer(std::size_t size, std::size_t alignment) : size_(size), alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw std::invalid_argument("alignment must be a power of two");
  // Round the allocation up so a whole number of aligned blocks is always there.
  std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  data_ = static_cast<std::byte*>(::operator new(rounded == 0 ? alignment : rounded, std::align_val_t(alignment)));
  std::memset(data_, 0, rounded == 0 ? alignment : rounded);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      alignment_(std::exchange(other.alignment_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    this->~AlignedBuffer();
    new (this) AlignedBuffer(std::move(other));
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() {
  if (data_) ::operator delete(data_, std::align_val_t(alignment_));
}

}  // namespace ringfile
