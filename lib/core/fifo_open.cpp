#include "core/fifo_open.hpp"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>

namespace ringfile::detail {

bool open_waits_for_partner(Request& r) {
  const OpArgs& a = r.args;
  if (!has_trait(a.op, kOpensFile) || r.cancelled.load(std::memory_order_relaxed) || (a.flags & O_NONBLOCK)) {
    return false;
  }
  if (r.res == -ENXIO) return (a.flags & O_ACCMODE) != O_RDONLY;
  if (r.res < 0 || (a.flags & O_ACCMODE) != O_RDONLY) return false;
  const int fd = static_cast<int>(r.res);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  r.fifo_placeholder = fd;
  return true;
}

}  // namespace ringfile::detail
