#include "target_path.hpp"

#include <http_parser.h>

namespace serve {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path part of an origin-form ("/a/b?q") or absolute-form ("http://h/a/b") target.
bool path_of(std::string_view target, std::string_view& path) {
  if (target.empty()) return false;
  if (target.front() != '/') {
    http_parser_url url;
    http_parser_url_init(&url);
    if (http_parser_parse_url(target.data(), target.size(), 0, &url) != 0) return false;
    if (!(url.field_set & (1u << UF_PATH))) {
      path = "/";
      return true;
    }
    target = target.substr(url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
  }
  path = target.substr(0, target.find_first_of("?#"));
  return !path.empty() && path.front() == '/';
}

}  // namespace

std::string with_trailing_slash(std::string_view target) {
  std::string_view path;
  if (!path_of(target, path) || path.back() == '/') return {};
  const std::size_t path_end = static_cast<std::size_t>(path.data() - target.data()) + path.size();
  const std::string_view query = target.substr(path_end, target.find('#', path_end) - path_end);
  std::string out(path);
  out += '/';
  out += query;
  return out;
}

TargetVerdict relative_path(std::string_view target, std::string& out) {
  out.clear();
  std::string_view path;
  if (!path_of(target, path)) return TargetVerdict::BadRequest;
  std::size_t segment_start = 0;
  bool last_dropped = false;  // the path ends in '/' or "/.": it names a directory
  // Ends the segment begun at segment_start: drops it when empty or ".", refuses "..".
  auto end_segment = [&]() {
    const std::string_view segment = std::string_view(out).substr(segment_start);
    if (segment == "..") return false;
    last_dropped = segment.empty() || segment == ".";
    if (last_dropped) out.resize(segment_start);
    else out.push_back('/');
    segment_start = out.size();
    return true;
  };
  for (std::size_t i = 1; i < path.size(); ++i) {
    char c = path[i];
    if (c == '/') {
      if (!end_segment()) return TargetVerdict::Forbidden;
      continue;
    }
    if (c == '%') {
      if (i + 2 >= path.size()) return TargetVerdict::BadRequest;
      const int high = hex_value(path[i + 1]), low = hex_value(path[i + 2]);
      if (high < 0 || low < 0) return TargetVerdict::BadRequest;
      c = static_cast<char>(high * 16 + low);
      i += 2;
      if (c == '\0') return TargetVerdict::BadRequest;
      if (c == '/') return TargetVerdict::Forbidden;
    }
    out.push_back(c);
  }
  if (!end_segment()) return TargetVerdict::Forbidden;
  // Every kept segment ends in '/': a directory gets its index, a file loses the '/'.
  if (last_dropped) out += "index.html";
  else out.pop_back();
  return TargetVerdict::Ok;
}

}  // namespace serve
