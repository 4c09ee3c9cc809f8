#include "response.hpp"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

namespace serve {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

// Extension (lower case) to type, as load_mime_types() read it.
std::unordered_map<std::string, std::string>& loaded_types() {
  static std::unordered_map<std::string, std::string> types;
  return types;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& ch : out) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
  return out;
}

}  // namespace

bool load_mime_types(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == 0) errno = ENOENT;
    return false;
  }
  auto& types = loaded_types();
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string type, extension;
    if (!(words >> type)) continue;
    if (type.rfind("text/", 0) == 0) type += "; charset=utf-8";
    while (words >> extension) types[lower(extension)] = type;  // a later line wins, as in nginx
  }
  return true;
}

std::string_view content_type(std::string_view path) {
  struct Type {
    std::string_view extension, type;
  };
  static constexpr Type kTypes[] = {
      {"html", "text/html; charset=utf-8"},  {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},    {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"},  {"md", "text/markdown; charset=utf-8"},
      {"xml", "application/xml"},            {"svg", "image/svg+xml"},
      {"png", "image/png"},                  {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},                {"gif", "image/gif"},
      {"webp", "image/webp"},                {"avif", "image/avif"},
      {"ico", "image/vnd.microsoft.icon"},   {"pdf", "application/pdf"},
      {"wasm", "application/wasm"},          {"woff", "font/woff"},
      {"woff2", "font/woff2"},               {"mp4", "video/mp4"},
      {"webm", "video/webm"},                {"mp3", "audio/mpeg"},
      {"zip", "application/zip"},            {"gz", "application/gzip"},
      {"tar", "application/x-tar"},
  };
  const std::size_t dot = path.rfind('.');
  const std::size_t slash = path.rfind('/');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    const std::string_view extension = path.substr(dot + 1);
    const auto& loaded = loaded_types();
    if (auto it = loaded.find(lower(extension)); it != loaded.end()) return it->second;
    for (const Type& t : kTypes) {
      if (t.extension.size() != extension.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < extension.size() && same; ++i) {
        same = (extension[i] | 0x20) == t.extension[i];
      }
      if (same) return t.type;
    }
  }
  return "application/octet-stream";
}

std::string_view http_date(std::time_t t, char (&out)[32]) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  const std::size_t n = std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {out, n};
}

bool parse_http_date(const std::string& text, std::time_t& out) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return false;
  out = timegm(&tm);
  return out != static_cast<std::time_t>(-1);
}

namespace {

bool parse_number(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

ByteRange parse_range(std::string_view header, std::uint64_t size) {
  ByteRange whole{ByteRange::Kind::Whole, 0, size};
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit) return whole;
  header.remove_prefix(kUnit.size());
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  if (header.find(',') != std::string_view::npos) return whole;
  const std::size_t dash = header.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first_text = header.substr(0, dash), last_text = header.substr(dash + 1);
  std::uint64_t first = 0, last = 0;
  if (first_text.empty()) {  // "-N": the last N bytes
    if (!parse_number(last_text, last)) return whole;
    if (last == 0 || size == 0) return {ByteRange::Kind::Unsatisfiable, 0, 0};
    const std::uint64_t n = last < size ? last : size;
    return {ByteRange::Kind::Part, size - n, n};
  }
  if (!parse_number(first_text, first)) return whole;
  if (last_text.empty()) last = size == 0 ? 0 : size - 1;
  else if (!parse_number(last_text, last) || last < first) return whole;
  if (first >= size) return {ByteRange::Kind::Unsatisfiable, 0, 0};
  if (last >= size) last = size - 1;
  return {ByteRange::Kind::Part, first, last - first + 1};
}

namespace {

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;
  out.append(digits, end);
}

}  // namespace

void build_head(const Head& head, std::string& out) {
  out.clear();
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(head.status));
  out += ' ';
  out += reason_phrase(head.status);
  out += "\r\nServer: ringfile-serve\r\nDate: ";
  out += head.date;
  if (!head.type.empty()) {
    out += "\r\nContent-Type: ";
    out += head.type;
  }
  if (head.has_content_length) {
    out += "\r\nContent-Length: ";
    append_number(out, head.content_length);
  }
  if (!head.last_modified.empty()) {
    out += "\r\nLast-Modified: ";
    out += head.last_modified;
    out += "\r\nAccept-Ranges: bytes";
  }
  if (!head.etag.empty()) {
    out += "\r\nETag: ";
    out += head.etag;
  }
  if (head.range) {
    out += "\r\nContent-Range: bytes ";
    if (head.range->kind == ByteRange::Kind::Part) {
      append_number(out, head.range->first);
      out += '-';
      append_number(out, head.range->first + head.range->length - 1);
    } else {
      out += '*';
    }
    out += '/';
    append_number(out, head.full_size);
  }
  if (head.allow) out += "\r\nAllow: GET, HEAD";
  if (!head.location.empty()) {
    out += "\r\nLocation: ";
    out += head.location;
  }
  if (!head.keep_alive) out += "\r\nConnection: close";
  else if (head.http10) out += "\r\nConnection: keep-alive";
  out += "\r\n\r\n";
}

}  // namespace serve
