// ringfile-serve on each engine for RINGFILE_SOAK_SECONDS (60 unless set) under
// 200 connections on 127.0.0.1: good keep-alive clients that check every byte,
// stalled downloads, slow readers, clients that reset mid-body and clients that
// send their head a byte at a time. The server's memory, descriptors and
// threads must stay bounded, and every good request must be answered right and
// quickly (p99 <= 100 ms).

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../examples/example_runner.hpp"
#include "../examples/http_client.hpp"

namespace ringfile::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kGoodClients = 16;
constexpr int kStalled = 64, kSlow = 40, kResetting = 40, kDribbling = 40;  // 200 with the good ones
constexpr std::size_t kLargeSize = 64u << 20;
constexpr double kP99LimitMs = 100;

std::chrono::seconds soak_duration() {
  const char* text = std::getenv("RINGFILE_SOAK_SECONDS");
  const long seconds = text ? std::strtol(text, nullptr, 10) : 60;
  return std::chrono::seconds(std::max(5L, seconds));
}

struct Sample {
  long rss_kib = 0;
  long fds = 0;
  long threads = 0;
};

Sample sample(pid_t pid) {
  Sample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("Threads:", 0) == 0) s.threads = std::atol(line.c_str() + 8);
  }
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end; it.increment(ec)) {
    ++s.fds;
  }
  return s;
}

struct Servable {
  std::string target;
  int status;
  std::string body;
};

// What one good client saw.
struct GoodStats {
  std::vector<double> latencies_ms;
  std::vector<std::string> wrong;  // the first few answers that were not right
  std::size_t wrong_count = 0;
};

void good_client(int port, const std::vector<Servable>& servables, unsigned seed, const std::atomic<bool>& stop,
                 GoodStats& out) {
  std::mt19937 rng(seed);
  auto wrong = [&](std::string what) {
    if (++out.wrong_count <= 5) out.wrong.push_back(std::move(what));
  };
  while (!stop) {
    HttpClient client(port, 5s);
    if (!client.connected()) {
      wrong("connect: " + std::string(std::strerror(client.connect_errno())));
      std::this_thread::sleep_for(10ms);
      continue;
    }
    // A new connection every few requests: accepts and releases are part of the load.
    for (int k = 0; k < 20 && !stop; ++k) {
      const Servable& s = servables[rng() % servables.size()];
      const bool head = rng() % 4 == 0;
      const auto began = Clock::now();
      const HttpResponse r = client.get(s.target, "", head ? "HEAD" : "GET");
      out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - began).count());
      const bool right = r.status == s.status &&
                         (head ? r.body.empty() && r.header("content-length") == std::to_string(s.body.size())
                               : r.body == s.body);
      if (!right) {
        wrong(std::string(head ? "HEAD " : "GET ") + s.target + ": status " + std::to_string(r.status) + ", " +
              std::to_string(r.body.size()) + " body bytes");
        break;  // the connection's state is unknown now
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 10));
    }
  }
}

// The misbehaving connections, all driven from one thread on non-blocking sockets.
class Misbehaving {
 public:
  enum class Kind { Stalled, Slow, Resetting, Dribbling };
  struct Counts {
    std::size_t stalled = 0, slow = 0, slow_bytes = 0, resets = 0, dribbled = 0, dribbled_ok = 0, refused = 0;
  };

  explicit Misbehaving(int port) : port_(port), rng_(7) {
    auto add = [&](Kind kind, int n) {
      for (int i = 0; i < n; ++i) {
        peers_.emplace_back();
        peers_.back().kind = kind;
      }
    };
    add(Kind::Stalled, kStalled);
    add(Kind::Slow, kSlow);
    add(Kind::Resetting, kResetting);
    add(Kind::Dribbling, kDribbling);
  }

  void run(const std::atomic<bool>& stop) {
    while (!stop) {
      const auto now = Clock::now();
      for (Peer& p : peers_) {
        if (now >= p.next) act(p, now);
      }
      std::this_thread::sleep_for(10ms);
    }
    for (Peer& p : peers_) p.client.reset();
  }
  const Counts& counts() const { return counts_; }

 private:
  struct Peer {
    Kind kind = Kind::Stalled;
    std::unique_ptr<HttpClient> client;
    Clock::time_point next{};
    Clock::time_point until{};  // when this connection is given up
    std::size_t sent = 0;
    std::string received;
  };
  static constexpr std::string_view kDribble = "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n";

  std::chrono::milliseconds between(int low_ms, int high_ms) {
    return std::chrono::milliseconds(low_ms + static_cast<int>(rng_() % static_cast<unsigned>(high_ms - low_ms)));
  }

  void connect(Peer& p, Clock::time_point now) {
    const bool small_buffer = p.kind != Kind::Dribbling;
    p.client = std::make_unique<HttpClient>(port_, 5s, small_buffer ? 4096 : 0);
    p.sent = 0;
    p.received.clear();
    if (!p.client->connected()) {
      ++counts_.refused;
      p.client.reset();
      p.next = now + 100ms;
      return;
    }
    if (p.kind != Kind::Dribbling && !p.client->send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n")) {
      p.client.reset();
      p.next = now + 100ms;
      return;
    }
    const int fd = p.client->fd();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    switch (p.kind) {
      case Kind::Stalled:
        ++counts_.stalled;
        p.until = now + between(5000, 15000);
        p.next = p.until;
        break;
      case Kind::Slow:
        ++counts_.slow;
        p.until = now + between(10000, 20000);
        p.next = now + 100ms;
        break;
      case Kind::Resetting:
        p.next = now + between(20, 300);
        break;
      case Kind::Dribbling:
        p.next = now;
        break;
    }
  }

  // Reads what is there without waiting: false when the server closed.
  bool read_available(Peer& p, std::size_t limit) {
    char buffer[16 * 1024];
    while (limit > 0) {
      const ssize_t n = ::recv(p.client->fd(), buffer, std::min(limit, sizeof buffer), MSG_DONTWAIT);
      if (n > 0) {
        p.received.append(buffer, static_cast<std::size_t>(n));
        limit -= static_cast<std::size_t>(n);
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    return true;
  }

  void act(Peer& p, Clock::time_point now) {
    if (!p.client) return connect(p, now);
    switch (p.kind) {
      case Kind::Stalled:  // never reads; closing with unread data resets
        p.client.reset();
        p.next = now;
        return;
      case Kind::Slow: {  // about 1 KiB/s
        const std::size_t before = p.received.size();
        const bool open = read_available(p, 100);
        counts_.slow_bytes += p.received.size() - before;
        p.received.clear();
        if (!open || now >= p.until) p.client.reset();
        p.next = now + 100ms;
        return;
      }
      case Kind::Resetting: {
        (void)read_available(p, 16 * 1024);
        const linger reset{1, 0};
        ::setsockopt(p.client->fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        p.client.reset();
        ++counts_.resets;
        p.next = now;
        return;
      }
      case Kind::Dribbling:
        if (p.sent < kDribble.size()) {
          if (::send(p.client->fd(), kDribble.data() + p.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) ++p.sent;
          p.next = now + between(20, 50);
          return;
        }
        if (!read_available(p, 4096) || p.received.find("\r\n\r\nhello\n") != std::string::npos) {
          ++counts_.dribbled;
          if (p.received.rfind("HTTP/1.1 200 ", 0) == 0 && p.received.find("\r\n\r\nhello\n") != std::string::npos) {
            ++counts_.dribbled_ok;
          }
          p.client.reset();
          p.next = now;
          return;
        }
        p.next = now + 10ms;
        return;
    }
  }

  int port_;
  std::mt19937 rng_;
  std::vector<Peer> peers_;
  Counts counts_;
};

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const std::size_t at = std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())));
  return sorted[at];
}

class ServeSoakTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    program_ = program("RINGFILE_SERVE");
    if (program_.empty()) GTEST_SKIP() << "RINGFILE_SERVE unset: ringfile-serve was not built, or not run by meson test";
    root_ = dir_.path() / "root";
    fs::create_directories(root_ / "dir");
    auto put = [&](const std::string& name, std::string data, const std::string& target) {
      write_plain((root_ / name).string(), data);
      servables_.push_back({target, 200, std::move(data)});
    };
    put("small.txt", "hello\n", "/small.txt");
    put("empty.bin", "", "/empty.bin");
    put("one.bin", "1", "/one.bin");
    put("page.bin", random_bytes(4095, 1), "/page.bin");
    put("64k.bin", random_bytes(64 * 1024, 2), "/64k.bin");
    put("1m.bin", random_bytes((1u << 20) + 1, 3), "/1m.bin");
    put("dir/index.html", "<p>index</p>", "/dir/");
    servables_.push_back({"/missing", 404, "404 Not Found\n"});
    const std::string large = (root_ / "large.bin").string();
    const int fd = ::open(large.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, kLargeSize), 0);
    ASSERT_EQ(::fsync(fd), 0);
    ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);  // the first sends are of uncached data
    ::close(fd);
  }

  std::string program_;
  TempDir dir_;
  fs::path root_;
  std::vector<Servable> servables_;
};

TEST_P(ServeSoakTest, MixedLoadStaysBoundedAndFast) {
  const auto duration = soak_duration();
  const auto warm_up = std::clamp<std::chrono::seconds>(duration / 6, 2s, 10s);
  ServeProcess server(program_, {"--listen", "127.0.0.1:0", "--threads", "2", "--idle-timeout", "10000",
                                 engine_flag(GetParam()), root_.string()});
  ASSERT_NE(server.port(), 0) << server.first_line();
  const int port = server.port();
  const Sample before = sample(server.pid());

  std::atomic<bool> stop{false};
  std::vector<GoodStats> good(kGoodClients);
  std::vector<std::thread> threads;
  Misbehaving misbehaving(port);
  threads.emplace_back([&] { misbehaving.run(stop); });
  for (int i = 0; i < kGoodClients; ++i) {
    threads.emplace_back([&, i] { good_client(port, servables_, static_cast<unsigned>(i + 1), stop, good[i]); });
  }

  const auto began = Clock::now();
  Sample warm, last, peak;
  bool warmed = false;
  while (Clock::now() - began < duration) {
    std::this_thread::sleep_for(250ms);
    last = sample(server.pid());
    peak.rss_kib = std::max(peak.rss_kib, last.rss_kib);
    peak.fds = std::max(peak.fds, last.fds);
    peak.threads = std::max(peak.threads, last.threads);
    if (!warmed && Clock::now() - began >= warm_up) {
      warm = last;
      warmed = true;
    }
  }
  stop = true;
  for (auto& t : threads) t.join();

  // Every connection is gone: the server gives back what they held.
  Sample after = sample(server.pid());
  for (auto deadline = Clock::now() + 5s; after.fds > before.fds + 16 && Clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
    after = sample(server.pid());
  }
  {
    HttpClient client(port);
    EXPECT_EQ(client.get("/small.txt").body, "hello\n") << "the server still answers";
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);

  std::vector<double> latencies;
  std::size_t wrong = 0;
  for (const GoodStats& g : good) {
    latencies.insert(latencies.end(), g.latencies_ms.begin(), g.latencies_ms.end());
    wrong += g.wrong_count;
    for (const std::string& w : g.wrong) ADD_FAILURE() << "wrong answer: " << w;
  }
  std::sort(latencies.begin(), latencies.end());
  const double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99);
  const double max = latencies.empty() ? 0 : latencies.back();
  const auto& m = misbehaving.counts();
  std::printf(
      "soak %s %llds: rss KiB start/warm/max/end/after %ld/%ld/%ld/%ld/%ld; fds %ld/%ld/%ld/%ld/%ld; "
      "threads %ld/%ld/%ld/%ld/%ld; good requests %zu (%zu wrong), latency ms p50/p99/max %.2f/%.2f/%.2f; "
      "stalled %zu, slow %zu (%zu bytes), resets %zu, dribbled %zu (%zu right), refused %zu\n",
      backend_name(::testing::TestParamInfo<Backend>(GetParam(), 0)).c_str(),
      static_cast<long long>(duration.count()), before.rss_kib, warm.rss_kib, peak.rss_kib, last.rss_kib,
      after.rss_kib, before.fds, warm.fds, peak.fds, last.fds, after.fds, before.threads, warm.threads,
      peak.threads, last.threads, after.threads, latencies.size(), wrong, p50, p99, max, m.stalled, m.slow,
      m.slow_bytes, m.resets, m.dribbled, m.dribbled_ok, m.refused);
  std::fflush(stdout);

  EXPECT_GT(latencies.size(), 0u);
  EXPECT_EQ(wrong, 0u);
  EXPECT_LE(p99, kP99LimitMs);
  EXPECT_EQ(m.dribbled, m.dribbled_ok) << "a head sent a byte at a time was answered wrong";
  EXPECT_GT(m.resets, 0u);
  // Bounded: the end within twice what the server held once warmed up (plus
  // slack for a loaded moment), and hard caps whatever the warm-up saw.
  EXPECT_LE(last.rss_kib, 2 * warm.rss_kib + 64 * 1024);
  EXPECT_LE(peak.rss_kib, 512 * 1024);
  EXPECT_LE(last.fds, 2 * warm.fds + 64);
  EXPECT_LE(peak.fds, 2048);
  EXPECT_LE(last.threads, 2 * warm.threads + 16);
  EXPECT_LE(peak.threads, 256);
  EXPECT_LE(after.fds, before.fds + 16) << "descriptors left once every client is gone";
}

INSTANTIATE_TEST_SUITE_P(Engines, ServeSoakTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
