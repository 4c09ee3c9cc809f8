#pragma once

// Conditional requests (RFC 9110 section 13): the file's validators (ETag and
// Last-Modified) against If-Match, If-Unmodified-Since, If-None-Match,
// If-Modified-Since and If-Range.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace serve {

// nginx's form: the mtime and the size in hex, quoted ("5f3e1a2b-1a4"), a strong tag.
std::string etag_of(std::time_t mtime, std::uint64_t size);

struct Conditions {
  std::string_view if_match;
  std::string_view if_unmodified_since;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view if_range;
};

enum class Precondition { Proceed, NotModified, Failed };

// What the preconditions of a GET or HEAD make of it, evaluated in section
// 13.2.2's order: If-Match (else If-Unmodified-Since) failing is 412; then
// If-None-Match (else If-Modified-Since) matching is 304.
Precondition evaluate(const Conditions& c, std::string_view etag, std::time_t mtime);

// Whether a Range may be served as a part (section 13.1.5): no If-Range, or one
// naming this representation: its ETag (strong comparison) or its exact
// Last-Modified date. Otherwise the whole file goes out with 200.
bool if_range_holds(std::string_view if_range, std::string_view etag, std::time_t mtime);

}  // namespace serve
