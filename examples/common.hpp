#pragma once

// Command-line bits shared by the examples.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <ringfile/engine.hpp>

namespace example {

inline bool parse_backend(std::string_view name, ringfile::Backend& out) {
  if (name == "auto") out = ringfile::Backend::Auto;
  else if (name == "io_uring") out = ringfile::Backend::IoUring;
  else if (name == "threadpool") out = ringfile::Backend::ThreadPool;
  else return false;
  return true;
}

// Accepts a size with an optional K or M suffix (powers of two).
inline bool parse_size(std::string_view text, std::size_t& out) {
  if (text.empty()) return false;
  std::size_t scale = 1;
  if (text.back() == 'K' || text.back() == 'k') scale = 1024;
  if (text.back() == 'M' || text.back() == 'm') scale = 1024 * 1024;
  if (scale != 1) text.remove_suffix(1);
  std::size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  out = value * scale;
  return out > 0;
}

// "--name=value" → value, when arg starts with "--name=".
inline bool option(std::string_view arg, std::string_view name, std::string_view& value) {
  if (arg.size() <= name.size() + 3 || arg.substr(0, 2) != "--" || arg.substr(2, name.size()) != name ||
      arg[2 + name.size()] != '=') {
    return false;
  }
  value = arg.substr(3 + name.size());
  return true;
}

}  // namespace example
