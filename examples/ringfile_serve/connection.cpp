#include "connection.hpp"

namespace serve {

void Connection::reset() {
  fd = -1;
  peer = {};
  parser.reset();
  input_begin = input_end = 0;
  readable = peer_done = responding = close_after = closed = in_input_loop = watching_output = false;
  ops = 0;
  path.clear();
  index_tried = false;
  head.clear();
  head_sent = 0;
  file = ringfile::File();
  body_offset = 0;
  body_left = 0;
  status = 0;
  body_sent = 0;
  why.clear();
}

void TimerList::add(Connection& c, std::int64_t now_ms) {
  remove(c);
  c.deadline_ms = now_ms + timeout_;
  c.timers = this;
  c.timer_prev = tail_;
  c.timer_next = nullptr;
  if (tail_) tail_->timer_next = &c;
  else head_ = &c;
  tail_ = &c;
}

void TimerList::remove(Connection& c) {
  TimerList* list = c.timers;
  if (!list) return;
  if (c.timer_prev) c.timer_prev->timer_next = c.timer_next;
  else list->head_ = c.timer_next;
  if (c.timer_next) c.timer_next->timer_prev = c.timer_prev;
  else list->tail_ = c.timer_prev;
  c.timer_prev = c.timer_next = nullptr;
  c.timers = nullptr;
}

}  // namespace serve
