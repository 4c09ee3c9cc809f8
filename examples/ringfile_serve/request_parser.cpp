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
}

void RequestParser::set_limits() { http_parser_set_max_header_size(kMaxRequestHead); }

int RequestParser::on_message_begin(http_parser* p) {
  RequestParser& s = self(p);
  s.started_ = true;
  s.in_headers_ = false;
  s.field_done_ = true;
  s.current_ = Interesting::None;
  s.request_.target.clear();
  s.request_.if_modified_since.clear();
  s.request_.range.clear();
  return 0;
}

int RequestParser::on_url(http_parser* p, const char* at, std::size_t length) {
  self(p).request_.target.append(at, length);
  return 0;
}

void RequestParser::classify_field() {
  if (strcasecmp(field_.c_str(), "if-modified-since") == 0) current_ = Interesting::IfModifiedSince;
  else if (strcasecmp(field_.c_str(), "range") == 0) current_ = Interesting::Range;
  else current_ = Interesting::None;
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
  }
  if (s.current_ == Interesting::IfModifiedSince) s.request_.if_modified_since.append(at, length);
  else if (s.current_ == Interesting::Range) s.request_.range.append(at, length);
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

void RequestParser::next() {
  started_ = false;
  if (status_ == Status::Complete) {
    status_ = Status::NeedMore;
    http_parser_pause(&parser_, 0);
  }
}

}  // namespace serve
