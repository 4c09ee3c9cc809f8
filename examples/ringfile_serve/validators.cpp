#include "validators.hpp"

#include <cstdio>

#include "response.hpp"

namespace serve {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated list of entity tags (or "*") names `etag`. Weak
// comparison ignores the W/ prefix; strong comparison never matches a weak tag.
bool list_matches(std::string_view list, std::string_view etag, bool weak) {
  list = trim(list);
  if (list == "*") return true;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view tag = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const bool is_weak = tag.substr(0, 2) == "W/";
    if (is_weak) {
      if (!weak) continue;
      tag.remove_prefix(2);
    }
    if (tag == etag) return true;
  }
  return false;
}

bool date_of(std::string_view header, std::time_t& out) { return parse_http_date(std::string(trim(header)), out); }

}  // namespace

std::string etag_of(std::time_t mtime, std::uint64_t size) {
  char text[48];
  const int n = std::snprintf(text, sizeof text, "\"%llx-%llx\"", static_cast<unsigned long long>(mtime),
                              static_cast<unsigned long long>(size));
  return std::string(text, static_cast<std::size_t>(n));
}

Precondition evaluate(const Conditions& c, std::string_view etag, std::time_t mtime) {
  std::time_t date = 0;
  if (!c.if_match.empty()) {
    if (!list_matches(c.if_match, etag, /*weak=*/false)) return Precondition::Failed;
  } else if (!c.if_unmodified_since.empty() && date_of(c.if_unmodified_since, date) && mtime > date) {
    return Precondition::Failed;
  }
  if (!c.if_none_match.empty()) {
    if (list_matches(c.if_none_match, etag, /*weak=*/true)) return Precondition::NotModified;
  } else if (!c.if_modified_since.empty() && date_of(c.if_modified_since, date) && mtime <= date) {
    return Precondition::NotModified;
  }
  return Precondition::Proceed;
}

bool if_range_holds(std::string_view if_range, std::string_view etag, std::time_t mtime) {
  if_range = trim(if_range);
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.substr(0, 2) == "W/") return list_matches(if_range, etag, false) &&
                                                                        if_range.find(',') == std::string_view::npos;
  std::time_t date = 0;
  return date_of(if_range, date) && date == mtime;
}

}  // namespace serve
