#pragma once

#include <vector>

#include <sys/types.h>

namespace ringfile::detail {

// The process's user and group identity. An executor whose ops are submitted by
// a kernel thread (io_uring's SQPOLL) acts with the identity the engine was made
// with; the core refuses ops once the process's own differs, rather than act with
// privileges the process dropped (libuv's CVE-2024-22017).
struct Credentials {
  uid_t uid[3] = {};  // real, effective, saved
  gid_t gid[3] = {};
  std::vector<gid_t> groups;
  bool operator==(const Credentials&) const = default;

  static Credentials current();
};

}  // namespace ringfile::detail
