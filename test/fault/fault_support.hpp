#pragma once

// Helpers for the fault tests: run one op to completion, compare large buffers
// without dumping megabytes into the log.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "test_support.hpp"

namespace ringfile::test {

// `start` receives the completion callback and submits the op with it:
//   sync_call<Result<std::size_t>>(engine, [&](auto done) { file.read(buf, n, 0, std::move(done)); });
template <class T, class Start>
T sync_call(Engine& engine, Start&& start) {
  std::optional<T> done;
  start([&done](T r) { done.emplace(std::move(r)); });
  return await(engine, done);
}

// Passes when the two byte strings are equal; otherwise says where they part.
inline ::testing::AssertionResult same_bytes(std::string_view actual, std::string_view expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
  auto at = [i](std::string_view s) {
    return i < s.size() ? std::to_string(static_cast<unsigned char>(s[i])) : std::string("end");
  };
  return ::testing::AssertionFailure() << "sizes " << actual.size() << " and " << expected.size()
                                       << ", first difference at byte " << i << ": " << at(actual)
                                       << " instead of " << at(expected);
}

}  // namespace ringfile::test
