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

// For a target naming a directory without its trailing slash ("/dir?x=1"): where
// the directory is ("/dir/?x=1"), so that its page's relative links resolve
// there. Empty when the path already ends in '/'.
std::string with_trailing_slash(std::string_view target);

}  // namespace serve
