#pragma once

#include <cstdint>
#include <ctime>

#include <sys/stat.h>
#include <sys/types.h>

namespace ringfile {

// What statx reports about a file, including the O_DIRECT alignment the
// filesystem asks for (STATX_DIOALIGN; 0 when the kernel or filesystem can't say).
struct FileStat {
  std::uint64_t size = 0;
  mode_t mode = 0;
  std::uint64_t nlink = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t inode = 0;
  dev_t device = 0;          // the filesystem holding the file (st_dev); with inode, names the file
  dev_t special_device = 0;  // what a device file stands for (st_rdev)
  std::uint32_t block_size = 0;
  std::uint64_t blocks = 0;
  timespec atime{};
  timespec mtime{};
  timespec ctime{};
  std::uint32_t dio_mem_align = 0;
  std::uint32_t dio_offset_align = 0;

  bool is_regular() const noexcept { return (mode & S_IFMT) == S_IFREG; }
  bool is_directory() const noexcept { return (mode & S_IFMT) == S_IFDIR; }
  bool is_symlink() const noexcept { return (mode & S_IFMT) == S_IFLNK; }
  bool same_file_as(const FileStat& other) const noexcept { return device == other.device && inode == other.inode; }
};

}  // namespace ringfile
