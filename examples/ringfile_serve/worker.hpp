#pragma once

// One serving thread: its own listening socket (SO_REUSEPORT), epoll loop and
// ringfile Engine, and the connections it accepted. Nothing is shared with other
// workers but the connection count.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ringfile/dir.hpp>
#include <ringfile/engine.hpp>

#include "connection.hpp"
#include "log_file.hpp"
#include "response.hpp"

namespace serve {

struct Config {
  std::string root;
  ringfile::Backend backend = ringfile::Backend::Auto;
  int access_log_fd = -1;  // combined format; -1: none
  int error_log_fd = 2;    // one line per refused or failed request
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  unsigned max_connections = 10'000;
};

class Worker {
 public:
  Worker(const Config& config, int listen_fd, std::atomic<unsigned>& connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // On the worker's thread, before run(): creates the engine and opens the root.
  // Returns an error message, or empty.
  std::string start();
  // Serves until stop(), then until the responses under way are out (bounded by
  // Config::shutdown_timeout). False when the loop itself failed.
  bool run();
  // Any thread: stop accepting and finish.
  void stop();
  // On the worker's thread, after run(): closes the files and the engine.
  void release_engine();
  std::string describe_engine() const;

 private:
  void accept_all();
  void on_event(Connection& c, std::uint32_t events);
  void serve_input(Connection& c);
  void begin_response(Connection& c);
  void open_file(Connection& c);
  void opened(Connection& c, ringfile::Result<ringfile::File> file);
  void statted(Connection& c, ringfile::Result<ringfile::FileStat> stat);
  void respond_file(Connection& c, const ringfile::FileStat& stat);
  // A response with a short text body: an error, or a redirect to `location`.
  void respond_error(Connection& c, int status, bool close, const ByteRange* unsatisfied = nullptr,
                     std::uint64_t size = 0, std::string_view location = {});
  void send_head(Connection& c);
  void send_body(Connection& c);
  void finish_response(Connection& c);
  void watch_output(Connection& c, bool on);
  void close_connection(Connection& c);
  void release_if_done(Connection& c);
  void pause_accepting(bool pause);
  void tick();
  void begin_drain();
  void log_access(const Connection& c);
  void log_error(const Connection& c);
  void update_log_time();
  // An error response, with the reason the error log gives for it.
  void refuse(Connection& c, int status, std::string why, bool close = false);
  std::string_view date();
  std::int64_t now_ms() const { return now_ms_; }
  bool done() const { return draining_ && live_ == 0; }

  const Config& config_;
  int listen_fd_;
  std::atomic<unsigned>& connections_;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int wake_fd_ = -1;
  std::optional<ringfile::Engine> engine_;
  ringfile::Dir root_;
  std::vector<std::unique_ptr<Connection>> all_;   // owns every Connection made
  std::vector<Connection*> free_;                   // ready for reuse
  std::vector<Connection*> retired_;                // closed this turn; reused after it
  TimerList header_timers_;
  TimerList idle_timers_;
  std::size_t live_ = 0;                            // accepted, not yet released
  std::int64_t now_ms_ = 0;
  bool draining_ = false;
  bool accept_paused_ = false;
  std::int64_t drain_deadline_ms_ = 0;
  LogFile access_log_;
  LogFile error_log_;
  std::time_t log_time_ = 0;
  char log_time_text_[32] = {};  // "07/Dec/2026:01:02:03 +0000"
  char error_time_text_[32] = {};  // "2026/12/07 01:02:03"
  std::time_t date_time_ = 0;
  char date_[32] = {};
  std::size_t date_size_ = 0;
};

}  // namespace serve
