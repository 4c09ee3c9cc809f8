#include "request_parser.hpp"

#include <strings.h>

namespace serve {

RequestParser::RequestParser() {
  field_.reserve(32);
  request_.target.reserve(256);
  reset();
}

void RequestParser::reset() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  status_ = Status::NeedMore;
  started_ = false;
  line_.clear();
  line_done_ = false;
}

void RequestParser::set_limits() { http_parser_set_max_header_size(kMaxRequestHead); }

int RequestParser::on_message_begin(http_parser* p) {
  RequestParser& s = self(p);
  s.started_ = true;
  s.in_headers_ = false;
  s.field_done_ = true;
  s.current_ = Interesting::None;
  s.request_.target.clear();
  for (std::string* v : {&s.request_.if_modified_since, &s.request_.if_unmodified_since, &s.request_.if_match,
                         &s.request_.if_none_match, &s.request_.if_range, &s.request_.range, &s.request_.referer,
                         &s.request_.user_agent}) {
    v->clear();
  }
  s.request_.has_host = false;
  return 0;
}

int RequestParser::on_url(http_parser* p, const char* at, std::size_t length) {
  self(p).request_.target.append(at, length);
  return 0;
}

void RequestParser::classify_field() {
  static constexpr struct {
    const char* name;
    Interesting field;
  } kFields[] = {
      {"host", Interesting::Host},
      {"if-modified-since", Interesting::IfModifiedSince},
      {"if-unmodified-since", Interesting::IfUnmodifiedSince},
      {"if-match", Interesting::IfMatch},
      {"if-none-match", Interesting::IfNoneMatch},
      {"if-range", Interesting::IfRange},
      {"range", Interesting::Range},
      {"referer", Interesting::Referer},
      {"user-agent", Interesting::UserAgent},
  };
  current_ = Interesting::None;
  for (const auto& f : kFields) {
    if (strcasecmp(field_.c_str(), f.name) == 0) current_ = f.field;
  }
}

std::string* RequestParser::value_of(Interesting field) noexcept {
  switch (field) {
    case Interesting::IfModifiedSince: return &request_.if_modified_since;
    case Interesting::IfUnmodifiedSince: return &request_.if_unmodified_since;
    case Interesting::IfMatch: return &request_.if_match;
    case Interesting::IfNoneMatch: return &request_.if_none_match;
    case Interesting::IfRange: return &request_.if_range;
    case Interesting::Range: return &request_.range;
    case Interesting::Referer: return &request_.referer;
    case Interesting::UserAgent: return &request_.user_agent;
    case Interesting::None: case Interesting::Host: return nullptr;
  }
  return nullptr;
}

int RequestParser::on_header_field(http_parser* p, const char* at, std::size_t length) {
  RequestParser& s = self(p);
  s.in_headers_ = true;
  if (s.field_done_) {
    s.field_.clear();
    s.field_done_ = false;
  }
  // Names longer than any we look for need not be kept whole.
  if (s.field_.size() < 32) s.field_.append(at, length);
  return 0;
}

int RequestParser::on_header_value(http_parser* p, const char* at, std::size_t length) {
  RequestParser& s = self(p);
  if (!s.field_done_) {
    s.field_done_ = true;
    s.classify_field();
    if (s.current_ == Interesting::Host) s.request_.has_host = true;
    // A list header given twice is one list (RFC 9110 section 5.3).
    if (std::string* v = s.value_of(s.current_); v && !v->empty()) v->push_back(',');
  }
  if (std::string* v = s.value_of(s.current_)) v->append(at, length);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* p) {
  RequestParser& s = self(p);
  s.in_headers_ = true;
  Request& r = s.request_;
  r.method = p->method == HTTP_GET ? Request::Method::Get
             : p->method == HTTP_HEAD ? Request::Method::Head
                                      : Request::Method::Other;
  r.http_major = p->http_major;
  r.http_minor = p->http_minor;
  r.keep_alive = http_should_keep_alive(p) != 0;
  return 0;
}

int RequestParser::on_message_complete(http_parser* p) {
  RequestParser& s = self(p);
  s.status_ = Status::Complete;
  // Stop here: the response goes out before the next pipelined request is read.
  http_parser_pause(p, 1);
  return 0;
}

std::size_t RequestParser::feed(const char* data, std::size_t length) {
  static const http_parser_settings callbacks = [] {
    http_parser_settings v;
    http_parser_settings_init(&v);
    v.on_message_begin = on_message_begin;
    v.on_url = on_url;
    v.on_header_field = on_header_field;
    v.on_header_value = on_header_value;
    v.on_headers_complete = on_headers_complete;
    v.on_message_complete = on_message_complete;
    return v;
  }();
  if (status_ != Status::NeedMore) return 0;
  const std::size_t used = http_parser_execute(&parser_, &callbacks, data, length);
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  // A request that fails is logged with what was sent of its line, parsed or not.
  record_line(data, err == HPE_OK || err == HPE_PAUSED ? used : length);
  if (status_ == Status::Complete) {
    request_.upgrade = parser_.upgrade != 0;
    return used;
  }
  if (err != HPE_OK) {
    status_ = Status::Error;
    error_status_ = err != HPE_HEADER_OVERFLOW ? 400 : in_headers_ ? 431 : 414;
  }
  return used;
}

void RequestParser::record_line(const char* data, std::size_t length) {
  for (std::size_t i = 0; i < length && !line_done_; ++i) {
    const char ch = data[i];
    if (ch == '\n') {
      line_done_ = !line_.empty();  // empty lines before a request are skipped, as the parser does
      continue;
    }
    if (ch != '\r' && line_.size() < kMaxLogged) line_.push_back(ch);
  }
}

void RequestParser::next() {
  started_ = false;
  line_.clear();
  line_done_ = false;
  if (status_ == Status::Complete) {
    status_ = Status::NeedMore;
    http_parser_pause(&parser_, 0);
  }
}

}  // namespace serve
