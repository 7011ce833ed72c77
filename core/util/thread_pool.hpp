// thread_pool.hpp - a fixed pool of worker threads for blocking backend
// calls (auth modules: PAM, SQL, LDAP, helpers), so that one slow or hung
// backend never stalls the event loop or other clients. Finished jobs are
// handed back to the loop thread through an eventfd.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace modpop3d::daemon
{

class ThreadPool
{
  public:
    explicit ThreadPool(unsigned threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    // submit - run `work` on a worker, then `done` on the loop thread (from
    // run_completions()).
    void submit(std::function<void()> work, std::function<void()> done);
    // event_fd - readable when completions are waiting.
    int event_fd() const { return event_fd_; }
    // run_completions - on the loop thread: run every finished job's `done`.
    void run_completions();

  private:
    void worker();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<std::function<void()>, std::function<void()>>> jobs_;
    std::deque<std::function<void()>> finished_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
    int event_fd_ = -1;
};

} // namespace modpop3d::daemon
