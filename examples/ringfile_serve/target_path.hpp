#pragma once

// Turns a request target into a path relative to the served root, or refuses it.

#include <string>
#include <string_view>

namespace serve {

enum class TargetVerdict {
  Ok,
  BadRequest,  // not a path, a broken %-escape, an encoded NUL
  Forbidden,   // an encoded '/', or a ".." segment
};

// Percent-decodes the path of `target` (query and fragment dropped) into `out`,
// relative to the root: segments joined by '/', empty and "." segments dropped.
// A path naming a directory (empty, or ending in '/') gets "index.html" appended.
TargetVerdict relative_path(std::string_view target, std::string& out);

}  // namespace serve
