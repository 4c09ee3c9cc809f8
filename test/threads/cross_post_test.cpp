// One engine per thread on 2, 4 and 8 threads, with Engine::post() crossing
// between them: each thread asks the others to store and read back data in their
// own files on their own engines, and they post the answer back. Built to run
// clean under ThreadSanitizer (-Db_sanitize=thread).

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

// Backend::Auto stands for a mesh of both engines, alternating by thread.
using MeshParam = std::tuple<Backend, int>;

std::string mesh_name(const ::testing::TestParamInfo<MeshParam>& info) {
  const auto [backend, threads] = info.param;
  const char* engines = backend == Backend::Auto ? "mixed" : backend == Backend::IoUring ? "io_uring" : "threadpool";
  return std::string(engines) + "_" + std::to_string(threads) + "_threads";
}

// Aborts the process with a message if the test hangs (a lost wake-up would).
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit) : thread_([this, limit] {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: no progress for %lld s, a wake-up was lost?\n",
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Everything a node touches is its own, except that other threads call post() on
// its engine (the one thread-safe entry point) once the ready latch has passed.
struct Node {
  std::optional<Engine> engine;
  File file;
  std::thread::id thread;
  std::string error;  // the first thing that went wrong, read after join
  std::uint64_t served = 0;
  std::uint64_t answers = 0;
  std::uint64_t received_posts = 0;
  std::vector<std::uint64_t> sent_to;  // requests sent to each peer

  void note(const std::string& what) {
    if (error.empty()) error = what;
  }
  bool on_own_thread(const char* where) {
    if (std::this_thread::get_id() == thread) return true;
    note(std::string(where) + " ran on another thread");
    return false;
  }
};

class Mesh {
 public:
  static constexpr std::size_t kSlot = 4096;
  static constexpr std::uint64_t kWindow = 8;  // requests in flight per peer

  Mesh(Backend backend, int threads, std::uint64_t requests_per_thread, std::uint64_t posts_per_peer,
       const TempDir& dir)
      : backend_(backend),
        n_(threads),
        per_peer_(std::max<std::uint64_t>(1, requests_per_thread / static_cast<std::uint64_t>(threads - 1))),
        posts_per_peer_(posts_per_peer),
        dir_(dir),
        ready_(threads),
        finished_(threads) {
    for (int i = 0; i < n_; ++i) nodes_.push_back(std::make_unique<Node>());
    total_answers_ = static_cast<std::uint64_t>(n_) * static_cast<std::uint64_t>(n_ - 1) * per_peer_;
    total_posts_ = static_cast<std::uint64_t>(n_) * static_cast<std::uint64_t>(n_ - 1) * posts_per_peer_;
  }

  void run() {
    std::vector<std::thread> threads;
    for (int i = 0; i < n_; ++i) threads.emplace_back([this, i] { node_main(i); });
    for (auto& t : threads) t.join();
  }

  const Node& node(int i) const { return *nodes_[static_cast<std::size_t>(i)]; }
  std::uint64_t per_peer() const { return per_peer_; }
  std::uint64_t answered() const { return answered_.load(); }
  std::uint64_t total_answers() const { return total_answers_; }
  std::uint64_t posts_delivered() const { return posts_.load(); }
  std::uint64_t total_posts() const { return total_posts_; }

 private:
  struct Job {
    int from = 0;
    std::uint64_t seq = 0;
    std::string payload;
    std::string back;
  };

  Backend backend_for(int i) const {
    if (backend_ != Backend::Auto) return backend_;
    return i % 2 == 0 ? Backend::IoUring : Backend::ThreadPool;
  }

  Node& at(int i) { return *nodes_[static_cast<std::size_t>(i)]; }

  bool finished() const { return answered_.load() == total_answers_ && posts_.load() == total_posts_; }

  void node_main(int self) {
    Node& me = at(self);
    me.thread = std::this_thread::get_id();
    me.sent_to.assign(static_cast<std::size_t>(n_), 0);
    EngineOptions o = options_for(backend_for(self));
    o.workers = 2;
    if (auto e = Engine::create(o)) {
      me.engine.emplace(std::move(*e));
      auto f = open_sync(*me.engine, dir_.file("node" + std::to_string(self)), O_CREAT | O_RDWR | O_TRUNC);
      if (f) me.file = std::move(*f);
      else me.note("open: " + f.error().message());
    } else {
      me.note("Engine::create: " + e.error().message());
    }
    if (!me.error.empty()) failed_.store(true);
    ready_.arrive_and_wait();

    if (!failed_.load()) {
      for (int peer = 0; peer < n_; ++peer) {
        if (peer == self) continue;
        for (std::uint64_t i = 0; i < std::min(kWindow, per_peer_); ++i) send_request(self, peer);
        for (std::uint64_t i = 0; i < posts_per_peer_; ++i) {
          at(peer).engine->post([this, peer] {
            if (failed_.load() || !at(peer).on_own_thread("a posted function")) return;
            ++at(peer).received_posts;
            count_post();
          });
        }
      }
      while (!finished() && !failed_.load()) {
        auto r = me.engine->wait();
        if (!r) {
          me.note("wait: " + r.error().message());
          stop_everyone();
        }
      }
      if (me.file.is_open()) {
        me.file.close();
      }
      if (auto r = me.engine->run(); !r) me.note("run: " + r.error().message());
    }
    // No engine goes away while another thread may still be inside its post().
    finished_.arrive_and_wait();
    me.file = File();
    me.engine.reset();
  }

  void send_request(int self, int peer) {
    Node& me = at(self);
    auto job = std::make_shared<Job>();
    job->from = self;
    job->seq = me.sent_to[static_cast<std::size_t>(peer)]++;
    job->payload = random_bytes(64 + (job->seq * 131 + static_cast<std::uint64_t>(self) * 17) % (kSlot - 64),
                                static_cast<std::uint32_t>(job->seq * 1000 + static_cast<std::uint64_t>(self)));
    at(peer).engine->post([this, peer, job] { serve(peer, job); });
  }

  // Runs on the peer's thread: store the payload, read it back, answer.
  void serve(int self, const std::shared_ptr<Job>& job) {
    if (failed_.load()) return;  // engines are shutting down: post nothing more
    Node& me = at(self);
    if (!me.on_own_thread("a request")) return stop_everyone();
    const auto offset = static_cast<std::int64_t>(
        (static_cast<std::uint64_t>(job->from) * per_peer_ + job->seq) * kSlot);
    me.file.write_all(job->payload.data(), job->payload.size(), offset, [this, self, job, offset](Result<std::size_t> w) {
      Node& me = at(self);
      if (!me.on_own_thread("a write completion")) return stop_everyone();
      if (!w || *w != job->payload.size()) {
        me.note("write failed: " + (w ? std::to_string(*w) : w.error().message()));
        return stop_everyone();
      }
      job->back.assign(job->payload.size(), '\0');
      me.file.read_exact(job->back.data(), job->back.size(), offset, [this, self, job](Result<std::size_t> r) {
        Node& me = at(self);
        if (!me.on_own_thread("a read completion")) return stop_everyone();
        if (!r || *r != job->back.size()) {
          me.note("read failed: " + (r ? std::to_string(*r) : r.error().message()));
          return stop_everyone();
        }
        ++me.served;
        if (failed_.load()) return;
        at(job->from).engine->post([this, job, self] { answer(job->from, self, job); });
      });
    });
  }

  // Runs on the requester's thread.
  void answer(int self, int peer, const std::shared_ptr<Job>& job) {
    if (failed_.load()) return;
    Node& me = at(self);
    if (!me.on_own_thread("an answer")) return stop_everyone();
    if (job->back != job->payload) {
      me.note("answer " + std::to_string(job->seq) + " from node " + std::to_string(peer) + " has the wrong bytes");
      return stop_everyone();
    }
    ++me.answers;
    if (me.sent_to[static_cast<std::size_t>(peer)] < per_peer_) send_request(self, peer);
    if (answered_.fetch_add(1) + 1 == total_answers_ && finished()) stop_everyone();
  }

  void count_post() {
    if (posts_.fetch_add(1) + 1 == total_posts_ && finished()) stop_everyone();
  }

  // Wakes every engine so each thread sees that the work is over (or failed).
  // Called from a node's own loop, so every engine is alive until finished_.
  void stop_everyone() {
    if (!finished()) failed_.store(true);
    for (int i = 0; i < n_; ++i) at(i).engine->post([] {});
  }

  Backend backend_;
  int n_;
  std::uint64_t per_peer_;
  std::uint64_t posts_per_peer_;
  const TempDir& dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::latch ready_;
  std::latch finished_;
  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> posts_{0};
  std::uint64_t total_answers_ = 0;
  std::uint64_t total_posts_ = 0;
};

class CrossPost : public ::testing::TestWithParam<MeshParam> {
 protected:
  void SetUp() override {
    const Backend b = std::get<0>(GetParam());
    if (b != Backend::ThreadPool) {
      if (auto why = skip_reason(Backend::IoUring); !why.empty()) GTEST_SKIP() << why;
    }
  }
  TempDir dir_;
};

TEST_P(CrossPost, RequestsAndAnswersCrossEveryPairOfThreads) {
  const auto [backend, threads] = GetParam();
  Watchdog watchdog(std::chrono::seconds(120));
  Mesh mesh(backend, threads, 240, 200, dir_);
  mesh.run();
  EXPECT_EQ(mesh.answered(), mesh.total_answers());
  EXPECT_EQ(mesh.posts_delivered(), mesh.total_posts());
  for (int i = 0; i < threads; ++i) {
    const Node& node = mesh.node(i);
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(node.error, "");
    EXPECT_EQ(node.answers, mesh.per_peer() * static_cast<std::uint64_t>(threads - 1));
    EXPECT_EQ(node.served, mesh.per_peer() * static_cast<std::uint64_t>(threads - 1));
    EXPECT_EQ(node.received_posts, 200u * static_cast<std::uint64_t>(threads - 1));
  }
  // Every slot of every file holds what its requester sent.
  for (int peer = 0; peer < threads; ++peer) {
    const std::string data = read_plain(dir_.file("node" + std::to_string(peer)));
    for (int from = 0; from < threads; ++from) {
      if (from == peer) continue;
      const std::uint64_t seq = mesh.per_peer() - 1;
      const std::size_t at = (static_cast<std::size_t>(from) * mesh.per_peer() + seq) * Mesh::kSlot;
      ASSERT_GT(data.size(), at) << "node " << peer << " lacks the last request of node " << from;
      EXPECT_NE(data.compare(at, 64, std::string(64, '\0')), 0) << "slot never written";
    }
  }
}

// Engines (and the pool's workers) started and stopped on threads, again and again.
TEST_P(CrossPost, MeshesSetUpAndTornDownAgainAndAgain) {
  const auto [backend, threads] = GetParam();
  Watchdog watchdog(std::chrono::seconds(120));
  for (int round = 0; round < 3; ++round) {
    Mesh mesh(backend, threads, 60, 50, dir_);
    mesh.run();
    ASSERT_EQ(mesh.answered(), mesh.total_answers()) << "round " << round;
    ASSERT_EQ(mesh.posts_delivered(), mesh.total_posts()) << "round " << round;
    for (int i = 0; i < threads; ++i) ASSERT_EQ(mesh.node(i).error, "") << "node " << i << " round " << round;
  }
}

std::vector<MeshParam> mesh_params() {
  std::vector<MeshParam> out;
  for (Backend b : engines_under_test()) {
    for (int n : {2, 4, 8}) out.emplace_back(b, n);
  }
  if (engines_under_test().size() > 1) {
    for (int n : {2, 4, 8}) out.emplace_back(Backend::Auto, n);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Meshes, CrossPost, ::testing::ValuesIn(mesh_params()), mesh_name);

}  // namespace
}  // namespace ringfile::test
