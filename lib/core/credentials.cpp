#include "core/credentials.hpp"

#include <algorithm>

#include <unistd.h>

namespace ringfile::detail {

Credentials Credentials::current() {
  Credentials c;
  ::getresuid(&c.uid[0], &c.uid[1], &c.uid[2]);
  ::getresgid(&c.gid[0], &c.gid[1], &c.gid[2]);
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    c.groups.resize(static_cast<std::size_t>(n));
    c.groups.resize(static_cast<std::size_t>(std::max(0, ::getgroups(n, c.groups.data()))));
  }
  return c;
}

}  // namespace ringfile::detail
