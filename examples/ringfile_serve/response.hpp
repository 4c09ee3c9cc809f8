#pragma once

// Pieces of an HTTP response: status lines, dates, content types, byte ranges,
// and the header block itself.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace serve {

const char* reason_phrase(int status);

// "Content-Type" for a file name, by its extension: from the mime.types file
// loaded at start-up, else from a built-in table of common types, else
// application/octet-stream. text/* types say charset=utf-8.
std::string_view content_type(std::string_view path);
// Reads a mime.types file ("type ext1 ext2 ...", '#' comments: Debian's
// /etc/mime.types) before any thread serves. False, with errno set, when it
// cannot be read.
bool load_mime_types(const std::string& path);

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), 29 characters.
std::string_view http_date(std::time_t t, char (&out)[32]);
// Parses an IMF-fixdate; false for anything else (the header is then ignored).
bool parse_http_date(const std::string& text, std::time_t& out);

struct ByteRange {
  enum class Kind { Whole, Part, Unsatisfiable };
  Kind kind = Kind::Whole;
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};
// A Range header against a file of `size` bytes. Only one "bytes=" range is
// honoured; several ranges or a malformed header serve the whole file, as
// RFC 9110 allows.
ByteRange parse_range(std::string_view header, std::uint64_t size);

// Builds a response head into `out` (cleared first).
struct Head {
  int status = 200;
  std::string_view date;            // the current http_date
  std::string_view type;            // Content-Type, or empty
  std::uint64_t content_length = 0;
  bool has_content_length = true;   // 304 sends none
  std::string_view last_modified;   // or empty
  std::string_view etag;            // or empty
  const ByteRange* range = nullptr; // Content-Range for 206
  std::uint64_t full_size = 0;      // for Content-Range
  bool keep_alive = true;
  bool http10 = false;              // HTTP/1.0 keep-alive must be said
  bool allow = false;               // 405: "Allow: GET, HEAD"
  std::string_view location;        // 301: Location, or empty
};
void build_head(const Head& head, std::string& out);

}  // namespace serve
