// outbox.hpp - messages waiting for room on one SOCK_SEQPACKET socket, so
// that no message between two processes is ever dropped because the
// peer's socket buffer was full (a burst of a thousand logins answered at
// once), and no event loop ever blocks on a send.
//
// send() delivers at once when nothing waits and the socket has room;
// otherwise it keeps the encoded message (and duplicates of its
// descriptors) in order. The owner watches the socket for writability
// while waiting() and calls flush() then. Messages leave in the order
// they were given. Thread-safe: pool threads may send too, and the
// `on_backlog` callback (set by the owner, called without the lock when
// the queue stops being empty) lets the event loop start watching.
#pragma once

#include "ipc/message.hpp"

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace modpop3d::ipc
{

class Outbox
{
  public:
    explicit Outbox(int socket = -1) : socket_(socket) {}
    ~Outbox() { clear(); }
    Outbox(const Outbox &) = delete;
    Outbox &operator=(const Outbox &) = delete;

    void set_socket(int socket) { socket_ = socket; }
    int socket() const { return socket_; }
    void on_backlog(std::function<void()> callback) { on_backlog_ = std::move(callback); }

    // send - `m` with `fds` (the caller keeps its own descriptors). ok:
    // sent or queued; closed: the peer is gone; error: cannot be encoded,
    // a descriptor cannot be duplicated, or the socket failed.
    Io send(const Message &m, const std::vector<int> &fds = {});
    // flush - send what waits while the socket takes it. ok: nothing waits
    // any more; again: the socket is full; closed or error: the queue was
    // dropped (the peer is gone).
    Io flush();
    bool waiting() const;
    std::size_t size() const;
    // clear - drop what waits (wiping it, closing its descriptors).
    void clear();

  private:
    struct Item {
        std::string bytes;
        std::vector<int> fds; // our duplicates, closed once sent
    };
    static void release(Item &item);
    Io flush_locked();

    int socket_;
    mutable std::mutex mutex_;
    std::deque<Item> queue_;
    std::function<void()> on_backlog_;
};

} // namespace modpop3d::ipc
