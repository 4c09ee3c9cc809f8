#include "device_flushes.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace ringfile::bench {
namespace {

// Field 16 (1-based) of a block device's stat file: flush requests completed.
constexpr std::size_t kFlushField = 15;

std::optional<std::uint64_t> read_flush_field(const std::string& stat_path) {
  std::ifstream in(stat_path);
  if (!in) return std::nullopt;
  std::vector<std::uint64_t> fields;
  std::uint64_t v = 0;
  while (in >> v) fields.push_back(v);
  if (fields.size() <= kFlushField) return std::nullopt;
  return fields[kFlushField];
}

}  // namespace

DeviceFlushes DeviceFlushes::for_file(const std::string& path) {
  DeviceFlushes d;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return d;
  std::ostringstream dir;
  dir << "/sys/dev/block/" << major(st.st_dev) << ':' << minor(st.st_dev);
  // The block layer counts flushes on the whole disk (part0), never on a partition,
  // so a partition's own field stays 0: read its disk's.
  const bool partition = ::access((dir.str() + "/partition").c_str(), F_OK) == 0;
  std::string stat_path = dir.str() + (partition ? "/../stat" : "/stat");
  if (!read_flush_field(stat_path)) return d;
  std::error_code ec;
  d.device_ = std::filesystem::canonical(stat_path, ec).parent_path().filename().string();
  if (d.device_.empty()) d.device_ = std::to_string(major(st.st_dev)) + ':' + std::to_string(minor(st.st_dev));
  d.stat_path_ = std::move(stat_path);
  return d;
}

std::optional<std::uint64_t> DeviceFlushes::count() const {
  if (stat_path_.empty()) return std::nullopt;
  return read_flush_field(stat_path_);
}

}  // namespace ringfile::bench
