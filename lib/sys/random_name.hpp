#pragma once

#include <string>

namespace ringfile::detail {

// 12 random hex digits for names of temporary files, distinct across threads and
// from a forked parent's.
std::string random_suffix();

}  // namespace ringfile::detail
