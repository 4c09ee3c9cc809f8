#include "exec/uring/probe.hpp"

#include <cstring>
#include <memory>

#include <liburing.h>

namespace ringfile::detail {

namespace {

struct FeatureName {
  unsigned bit;
  const char* name;
};

constexpr FeatureName kFeatures[] = {
    {IORING_FEAT_SINGLE_MMAP, "SINGLE_MMAP"},
    {IORING_FEAT_NODROP, "NODROP"},
    {IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"},
    {IORING_FEAT_RW_CUR_POS, "RW_CUR_POS"},
    {IORING_FEAT_CUR_PERSONALITY, "CUR_PERSONALITY"},
    {IORING_FEAT_FAST_POLL, "FAST_POLL"},
    {IORING_FEAT_POLL_32BITS, "POLL_32BITS"},
    {IORING_FEAT_SQPOLL_NONFIXED, "SQPOLL_NONFIXED"},
    {IORING_FEAT_EXT_ARG, "EXT_ARG"},
    {IORING_FEAT_NATIVE_WORKERS, "NATIVE_WORKERS"},
    {IORING_FEAT_RSRC_TAGS, "RSRC_TAGS"},
    {IORING_FEAT_CQE_SKIP, "CQE_SKIP"},
    {IORING_FEAT_LINKED_FILE, "LINKED_FILE"},
    // Newer than liburing 2.3's header; the kernel's values.
    {1u << 13, "REG_REG_RING"},
    {1u << 14, "RECVSEND_BUNDLE"},
    {1u << 15, "MIN_TIMEOUT"},
    {1u << 16, "RW_ATTR"},
    {1u << 17, "NO_IOWAIT"},
};

struct ProbeDeleter {
  void operator()(io_uring_probe* p) const noexcept { io_uring_free_probe(p); }
};

}  // namespace

// The op table writes the kernel's opcode numbers out; they must be liburing's.
static_assert(uring_op::nop == IORING_OP_NOP && uring_op::readv == IORING_OP_READV &&
              uring_op::writev == IORING_OP_WRITEV && uring_op::fsync == IORING_OP_FSYNC &&
              uring_op::read_fixed == IORING_OP_READ_FIXED && uring_op::write_fixed == IORING_OP_WRITE_FIXED &&
              uring_op::poll_add == IORING_OP_POLL_ADD && uring_op::fallocate == IORING_OP_FALLOCATE &&
              uring_op::openat == IORING_OP_OPENAT && uring_op::close == IORING_OP_CLOSE &&
              uring_op::statx == IORING_OP_STATX && uring_op::read == IORING_OP_READ &&
              uring_op::write == IORING_OP_WRITE && uring_op::openat2 == IORING_OP_OPENAT2 &&
              uring_op::splice == IORING_OP_SPLICE && uring_op::renameat == IORING_OP_RENAMEAT &&
              uring_op::unlinkat == IORING_OP_UNLINKAT && uring_op::mkdirat == IORING_OP_MKDIRAT &&
              uring_op::symlinkat == IORING_OP_SYMLINKAT && uring_op::linkat == IORING_OP_LINKAT &&
              uring_op::fsetxattr == IORING_OP_FSETXATTR && uring_op::fgetxattr == IORING_OP_FGETXATTR);

std::string UringProbe::feature_names() const {
  std::string out;
  unsigned known = 0;
  for (const auto& f : kFeatures) {
    known |= f.bit;
    if (!(features & f.bit)) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
  // Bits newer than this table still show, by number.
  for (unsigned bit = 0; bit < 32; ++bit) {
    unsigned mask = 1u << bit;
    if (!(features & mask) || (known & mask)) continue;
    if (!out.empty()) out += ' ';
    out += "bit" + std::to_string(bit);
  }
  return out;
}

bool UringProbe::has_feature(const char* name) const {
  for (const auto& f : kFeatures) {
    if (std::strcmp(f.name, name) == 0) return (features & f.bit) != 0;
  }
  return false;
}

UringProbe probe_ring(io_uring& ring) {
  UringProbe out;
  out.features = ring.features;
  std::unique_ptr<io_uring_probe, ProbeDeleter> p(io_uring_get_probe_ring(&ring));
  if (!p) return out;
  for (unsigned op = 0; op <= p->last_op && op < out.opcodes.size(); ++op) {
    if (io_uring_opcode_supported(p.get(), static_cast<int>(op))) out.opcodes.set(op);
  }
  return out;
}

Result<UringProbe> probe_kernel() {
  io_uring ring;
  io_uring_params params;
  std::memset(&params, 0, sizeof params);
  int ret = io_uring_queue_init_params(4, &ring, &params);
  if (ret < 0) return errno_code(-ret);
  UringProbe out = probe_ring(ring);
  io_uring_queue_exit(&ring);
  return out;
}

}  // namespace ringfile::detail
