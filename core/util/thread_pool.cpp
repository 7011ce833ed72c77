// thread_pool.cpp - worker threads and the completion queue (see the header).
#include "util/thread_pool.hpp"

#include <cstdint>
#include <stdexcept>
#include <sys/eventfd.h>
#include <unistd.h>

namespace modpop3d::daemon
{

ThreadPool::ThreadPool(unsigned threads)
{
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0)
        throw std::runtime_error("eventfd failed");
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto &t : threads_)
        t.join();
    close(event_fd_);
}

void ThreadPool::submit(std::function<void()> work, std::function<void()> done)
{
    {
        std::lock_guard lock(mutex_);
        jobs_.emplace_back(std::move(work), std::move(done));
    }
    wake_.notify_one();
}

void ThreadPool::worker()
{
    for (;;) {
        std::pair<std::function<void()>, std::function<void()>> job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_ && jobs_.empty())
                return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job.first();
        {
            std::lock_guard lock(mutex_);
            finished_.push_back(std::move(job.second));
        }
        uint64_t one = 1;
        ssize_t ignored = write(event_fd_, &one, sizeof one);
        (void)ignored;
    }
}

void ThreadPool::run_completions()
{
    uint64_t count = 0;
    ssize_t ignored = read(event_fd_, &count, sizeof count);
    (void)ignored;
    std::deque<std::function<void()>> ready;
    {
        std::lock_guard lock(mutex_);
        ready.swap(finished_);
    }
    for (auto &done : ready)
        done();
}

} // namespace modpop3d::daemon
