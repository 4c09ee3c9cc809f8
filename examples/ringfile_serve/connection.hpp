#pragma once

// One client connection and the per-thread lists that time connections out.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <sys/socket.h>

#include <ringfile/file.hpp>

#include "request_parser.hpp"

namespace serve {

class TimerList;

struct Connection {
  static constexpr std::size_t kInputSize = 8 * 1024;

  int fd = -1;
  sockaddr_storage peer{};
  RequestParser parser;
  std::unique_ptr<char[]> input = std::make_unique<char[]>(kInputSize);
  std::size_t input_begin = 0;
  std::size_t input_end = 0;
  bool readable = false;       // edge-triggered epoll: data may be waiting
  bool peer_done = false;      // the client sent its last byte
  bool responding = false;     // between a complete request and its last byte out
  bool close_after = false;    // close once this response is out
  bool closed = false;
  bool in_input_loop = false;  // serve_input is on the stack
  bool watching_output = false;
  unsigned ops = 0;            // engine callbacks still to come

  // The response under way.
  std::string path;
  bool index_tried = false;
  std::string head;
  std::size_t head_sent = 0;
  ringfile::File file;
  std::int64_t body_offset = 0;
  std::uint64_t body_left = 0;
  int status = 0;
  std::uint64_t body_sent = 0;
  std::string why;  // an error response's reason, for the error log

  // Membership of one TimerList (every open connection is in one).
  Connection* timer_prev = nullptr;
  Connection* timer_next = nullptr;
  TimerList* timers = nullptr;
  std::int64_t deadline_ms = 0;

  // Back to the state of a new connection (reused from the worker's pool).
  void reset();
};

// Connections that share one timeout, ordered by deadline: each is appended with
// now + timeout, and now only grows, so the front expires first.
class TimerList {
 public:
  explicit TimerList(std::chrono::milliseconds timeout) : timeout_(timeout.count()) {}
  void add(Connection& c, std::int64_t now_ms);
  static void remove(Connection& c);
  // The connection at the front when its deadline has passed, else null.
  Connection* expired(std::int64_t now_ms) const {
    return head_ && head_->deadline_ms <= now_ms ? head_ : nullptr;
  }
  Connection* front() const { return head_; }

 private:
  std::int64_t timeout_;
  Connection* head_ = nullptr;
  Connection* tail_ = nullptr;
};

}  // namespace serve
