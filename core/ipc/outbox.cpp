// outbox.cpp - see outbox.hpp.
#include "ipc/outbox.hpp"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

namespace modpop3d::ipc
{

void Outbox::release(Item &item)
{
    std::fill(item.bytes.begin(), item.bytes.end(), '\0'); // answers may carry secrets
    for (int fd : item.fds)
        close(fd);
    item.fds.clear();
}

Io Outbox::send(const Message &m, const std::vector<int> &fds)
{
    Item item;
    if (!encode(m, item.bytes) || fds.size() > max_fds)
        return Io::error;
    bool became_busy = false;
    Io result = Io::ok;
    {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) {
            Io r = send_encoded(socket_, item.bytes, fds, true);
            if (r != Io::again) {
                release(item);
                return r;
            }
            became_busy = true;
        }
        // Keep it: the descriptors must stay open until the message leaves,
        // whatever the caller does with its own.
        for (int fd : fds) {
            int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (copy < 0) {
                release(item);
                return Io::error;
            }
            item.fds.push_back(copy);
        }
        queue_.push_back(std::move(item));
    }
    if (became_busy && on_backlog_)
        on_backlog_();
    return result;
}

Io Outbox::flush_locked()
{
    while (!queue_.empty()) {
        Item &front = queue_.front();
        Io r = send_encoded(socket_, front.bytes, front.fds, true);
        if (r == Io::again)
            return r;
        if (r != Io::ok) {
            for (auto &item : queue_)
                release(item);
            queue_.clear();
            return r;
        }
        release(front);
        queue_.pop_front();
    }
    return Io::ok;
}

Io Outbox::flush()
{
    std::lock_guard lock(mutex_);
    return flush_locked();
}

bool Outbox::waiting() const
{
    std::lock_guard lock(mutex_);
    return !queue_.empty();
}

std::size_t Outbox::size() const
{
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void Outbox::clear()
{
    std::lock_guard lock(mutex_);
    for (auto &item : queue_)
        release(item);
    queue_.clear();
}

} // namespace modpop3d::ipc
