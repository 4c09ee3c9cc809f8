#pragma once

// Cache flushes the kernel sent to the block device holding a file, read from its
// /sys/dev/block/MAJ:MIN/stat (field 16, kernel >= 5.5). The count is the whole
// device's: other processes' I/O on it adds to what a benchmark case sees.

#include <cstdint>
#include <optional>
#include <string>

namespace ringfile::bench {

class DeviceFlushes {
 public:
  // The counter for the device holding `path`; unavailable (tmpfs, overlay, a
  // kernel without the field) when it can't be read.
  static DeviceFlushes for_file(const std::string& path);

  bool available() const noexcept { return !stat_path_.empty(); }
  // Flush requests completed on the device so far, or nothing when unavailable.
  std::optional<std::uint64_t> count() const;
  // The stat file read, and the device's name (e.g. vda); empty when unavailable.
  const std::string& stat_path() const noexcept { return stat_path_; }
  const std::string& device() const noexcept { return device_; }

 private:
  std::string stat_path_;
  std::string device_;
};

}  // namespace ringfile::bench
