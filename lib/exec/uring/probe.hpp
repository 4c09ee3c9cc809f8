#pragma once

#include <bitset>
#include <string>

#include "ops/request.hpp"
#include "ringfile/result.hpp"

struct io_uring;

namespace ringfile::detail {

// What the running kernel's io_uring offers: its opcodes and IORING_FEAT_* bits.
// Headers outside lib/exec/uring/ see no liburing types, so tests can query it too.
struct UringProbe {
  std::bitset<256> opcodes;  // indexed by IORING_OP_*
  unsigned features = 0;     // io_uring_params::features

  bool supports_opcode(int opcode) const noexcept {
    return opcode >= 0 && static_cast<std::size_t>(opcode) < opcodes.size() && opcodes.test(static_cast<std::size_t>(opcode));
  }
  bool supports(Op op) const noexcept { return supports_opcode(uring_opcode(op)); }
  // Space-separated IORING_FEAT_* names without the prefix: "NODROP SUBMIT_STABLE ...".
  std::string feature_names() const;
  bool has_feature(const char* name) const;
};

// Probes an initialised ring. A kernel without IORING_REGISTER_PROBE (< 5.6)
// reports no opcodes, so everything would go to the helper pool.
UringProbe probe_ring(io_uring& ring);

// Sets up a tiny ring, probes it and tears it down. Fails with the errno of
// io_uring_setup when the kernel refuses io_uring (EPERM, ENOSYS, ...). Does not go
// through the syscall seam: tests use it to learn what the real kernel allows.
Result<UringProbe> probe_kernel();

}  // namespace ringfile::detail
