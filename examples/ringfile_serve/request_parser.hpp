#pragma once

// One HTTP/1.x request at a time out of a byte stream, with libhttp-parser doing
// the parsing. Only what a static file server needs is kept: the method, the
// request target, whether a Host header came, the conditional headers and Range.

#include <cstddef>
#include <string>

#include <http_parser.h>

namespace serve {

// Request line plus headers past this many bytes: 414 (still in the request
// line) or 431.
inline constexpr std::size_t kMaxRequestHead = 8 * 1024;

struct Request {
  enum class Method { Get, Head, Other };
  Method method = Method::Other;
  bool keep_alive = false;
  bool upgrade = false;  // the connection must close after the response
  bool has_host = false;  // RFC 9112 section 3.2: HTTP/1.1 requires one
  unsigned http_major = 1;
  unsigned http_minor = 1;
  std::string target;
  std::string if_modified_since;
  std::string if_unmodified_since;
  std::string if_match;
  std::string if_none_match;
  std::string if_range;
  std::string range;
  std::string referer;     // for the access log
  std::string user_agent;
};

class RequestParser {
 public:
  enum class Status { NeedMore, Complete, Error };

  RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Call once per process: the parser's head limit is a global of the library.
  static void set_limits();

  // Parses from `data` and stops after one complete request; returns the bytes
  // consumed. The request stays in request() until next().
  std::size_t feed(const char* data, std::size_t length);
  Status status() const noexcept { return status_; }
  const Request& request() const noexcept { return request_; }
  // The status code that answers a malformed request (400, 414 or 431).
  int error_status() const noexcept { return error_status_; }
  // Some bytes of a request that is not complete yet have been read.
  bool inside_request() const noexcept { return started_ && status_ == Status::NeedMore; }
  // The first line of the current request as the client sent it (without CRLF),
  // also of one that could not be parsed: what the logs show. At most kMaxLogged bytes.
  const std::string& request_line() const noexcept { return line_; }
  static constexpr std::size_t kMaxLogged = 2048;
  // Ready for the next request on the connection.
  void next();
  // Ready for a new connection.
  void reset();

 private:
  enum class Interesting {
    None, Host, IfModifiedSince, IfUnmodifiedSince, IfMatch, IfNoneMatch, IfRange, Range, Referer, UserAgent
  };
  std::string* value_of(Interesting field) noexcept;

  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, std::size_t length);
  static int on_header_field(http_parser* p, const char* at, std::size_t length);
  static int on_header_value(http_parser* p, const char* at, std::size_t length);
  static int on_headers_complete(http_parser* p);
  static int on_message_complete(http_parser* p);
  static RequestParser& self(http_parser* p) { return *static_cast<RequestParser*>(p->data); }
  void classify_field();
  void record_line(const char* data, std::size_t length);

  http_parser parser_{};
  Request request_;
  Status status_ = Status::NeedMore;
  int error_status_ = 400;
  bool started_ = false;
  bool in_headers_ = false;  // the request line is over
  bool field_done_ = true;   // the next on_header_field starts a new name
  std::string field_;
  Interesting current_ = Interesting::None;
  std::string line_;
  bool line_done_ = false;
};

}  // namespace serve
