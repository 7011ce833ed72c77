// worker.cpp - the per-thread event loop; see worker.hpp. Sessions run their
// steps one command at a time (no pipelining, like ordinary clients); each
// reply is parsed by bench::Reply and checked here before the next command.
#include "worker.hpp"

#include "reply.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bench
{

namespace
{

using Clock = std::chrono::steady_clock;

// Parse "N VALUE" (a UIDL or LIST line); false when malformed.
bool split_line(std::string_view line, uint64_t &n, std::string_view &value)
{
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0)
        return false;
    auto [p, ec] = std::from_chars(line.data(), line.data() + sp, n);
    if (ec != std::errc() || p != line.data() + sp)
        return false;
    value = line.substr(sp + 1);
    return !value.empty();
}

bool parse_u64(std::string_view s, uint64_t &v)
{
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
}

int worker_index()
{
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    auto *w = static_cast<Worker *>(SSL_get_ex_data(ssl, worker_index()));
    if (w == nullptr)
        return 0;
    w->keep_session(sess);
    return 1; // the worker owns it now
}

} // namespace

void enable_resumption(SSL_CTX *ctx)
{
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
}

struct Worker::Conn {
    int fd = -1;
    SSL *ssl = nullptr;
    std::size_t session = 0;
    std::size_t step = 0;
    bool connecting = true;
    bool handshaking = false;
    bool want_write = false; // TLS needs the socket writable to progress
    bool holding = false;
    uint32_t mask = 0;
    Clock::time_point started;
    Reply reply;
    std::string out;
    std::size_t out_off = 0;
    std::unique_ptr<char[]> in; // in_size bytes, not zeroed
    std::size_t in_size = 0;
    std::size_t in_head = 0, in_tail = 0;
    std::vector<uint64_t> list_sizes;             // this session's LIST
    std::shared_ptr<const std::string> uidl_text; // this session's UIDL listing
    std::vector<std::string_view> uidls;          // its UIDLs (views into uidl_text)
    bool have_uidls = false;                      // uidls holds a checked listing
    std::vector<uint32_t> seen;                   // open-addressing set of UIDL indexes + 1
    std::vector<const Message *> candidates;      // RETR compared byte for byte

    // read/write through TLS or the socket: >0 bytes, 0 end of stream,
    // -1 would block, -2 error.
    ssize_t io_read(char *buf, std::size_t n)
    {
        if (ssl == nullptr) {
            const ssize_t r = ::read(fd, buf, n);
            if (r >= 0)
                return r;
            return errno == EAGAIN || errno == EINTR ? -1 : -2;
        }
        want_write = false;
        const int r = SSL_read(ssl, buf, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
        if (r > 0)
            return r;
        switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ:
            return -1;
        case SSL_ERROR_WANT_WRITE:
            want_write = true;
            return -1;
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        default:
            return -2;
        }
    }
    ssize_t io_write(const char *buf, std::size_t n)
    {
        if (ssl == nullptr) {
            const ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
            if (r >= 0)
                return r;
            return errno == EAGAIN || errno == EINTR ? -1 : -2;
        }
        const int r = SSL_write(ssl, buf, static_cast<int>(n));
        if (r > 0)
            return r;
        const int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            return -1;
        return -2;
    }
};

Worker::Worker(const WorkerConfig &cfg, std::vector<Session> sessions, HoldBarrier &barrier)
    : cfg_(cfg), sessions_(std::move(sessions)), barrier_(barrier)
{
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
}

Worker::~Worker()
{
    for (auto &c : conns_)
        if (c && c->fd >= 0)
            close_conn(*c);
    for (SSL_SESSION *t : tickets_)
        SSL_SESSION_free(t);
    if (epfd_ >= 0)
        ::close(epfd_);
}

void Worker::keep_session(SSL_SESSION *s)
{
    // Bounded: a server sending several tickets per connection would
    // otherwise grow the pool for the whole run.
    if (tickets_.size() >= 256) {
        SSL_SESSION_free(tickets_.front());
        tickets_.pop_front();
    }
    tickets_.push_back(s);
}

SSL_SESSION *Worker::take_session()
{
    if (tickets_.empty())
        return nullptr;
    SSL_SESSION *s = tickets_.back();
    tickets_.pop_back();
    return s;
}

void Worker::watch(Conn &c)
{
    uint32_t want = EPOLLIN;
    if (c.connecting || c.want_write || c.out_off < c.out.size())
        want |= EPOLLOUT;
    if (want == c.mask)
        return;
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = &c;
    epoll_ctl(epfd_, c.mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.mask = want;
}

void Worker::start(std::size_t index)
{
    auto conn = std::make_unique<Conn>();
    Conn &c = *conn;
    c.session = index;
    // Input buffers go back to spare_in_ when a connection closes: a fresh
    // zeroed one per session cost the load generator more than some of the
    // server's own work per session. A new one is zeroed, which touches its
    // pages before this session's clock starts.
    if (!spare_in_.empty()) {
        c.in = std::move(spare_in_.back());
        spare_in_.pop_back();
    } else {
        c.in = std::make_unique<char[]>(cfg_.buffer);
    }
    c.in_size = cfg_.buffer;
    {
        // Room for the biggest listing this session can receive, allocated
        // and touched before its clock starts (the server is measured, not
        // the load generator's page faults). A UIDL line is at most
        // "N UIDL\r\n" with a UIDL of 70 octets; a LIST line is shorter.
        const Session &s = sessions_[index];
        auto has = [&s](Step::Kind k) {
            return std::any_of(s.steps.begin(), s.steps.end(),
                               [k](const Step &st) { return st.kind == k; });
        };
        const bool uidl = has(Step::uidl);
        if ((uidl || has(Step::list)) && s.user != nullptr) {
            const std::size_t n = s.user->messages.size();
            const std::size_t digits = std::to_string(n).size();
            c.reply.reserve(n * (digits + 1 + 70 + 2), n);
        }
        if (uidl && s.user != nullptr) {
            const std::size_t n = s.user->messages.size();
            c.uidls.resize(n);
            std::size_t slots = 16;
            while (slots < 2 * n)
                slots *= 2;
            c.seen.assign(slots, 0);
        }
    }
    c.started = Clock::now();
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ++active_;
    conns_.push_back(std::move(conn));
    if (c.fd < 0) {
        fail(c, std::string("socket: ") + std::strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg_.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // loopback only, by design
    if (connect(c.fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 && errno != EINPROGRESS) {
        fail(c, std::string("connect: ") + std::strerror(errno));
        return;
    }
    watch(c);
}

void Worker::close_conn(Conn &c)
{
    if (c.ssl != nullptr) {
        SSL_free(c.ssl);
        c.ssl = nullptr;
    }
    if (c.fd >= 0) {
        ::close(c.fd);
        c.fd = -1;
    }
    if (c.in) {
        spare_in_.push_back(std::move(c.in));
        c.in_size = c.in_head = c.in_tail = 0;
    }
}

void Worker::fail(Conn &c, const std::string &why)
{
    const Session &s = sessions_[c.session];
    std::string where = s.user ? s.user->name : "?";
    if (c.step < s.steps.size())
        where += " step " + std::to_string(c.step);
    stats_.error(where + ": " + why);
    barrier_.failed.fetch_add(1);
    if (!c.holding)
        --active_;
    c.holding = false;
    close_conn(c);
}

void Worker::finish(Conn &c)
{
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
    stats_.latency_ms.push_back(ms);
    ++stats_.ok;
    --active_;
    if (c.ssl != nullptr)
        // QUIT's +OK ended the session cleanly. Without close_notify
        // OpenSSL's SSL_free takes the session for a broken one and marks
        // it not resumable: the ticket kept for the next connection would
        // then be refused, and sequential sessions never resumed at all.
        SSL_shutdown(c.ssl);
    close_conn(c);
}

bool Worker::begin_step(Conn &c)
{
    const Session &s = sessions_[c.session];
    if (c.step >= s.steps.size()) {
        finish(c);
        return false;
    }
    const Step &st = s.steps[c.step];
    std::string cmd;
    Reply::Mode mode = Reply::Mode::single;
    switch (st.kind) {
    case Step::greet:
        break;
    case Step::user:
        cmd = "USER " + s.user->name;
        break;
    case Step::pass:
        cmd = "PASS " + s.user->password;
        break;
    case Step::stat:
        cmd = "STAT";
        break;
    case Step::uidl:
        cmd = "UIDL";
        mode = Reply::Mode::multi_lines;
        break;
    case Step::list:
        cmd = "LIST";
        mode = Reply::Mode::multi_lines;
        break;
    case Step::retr:
        cmd = "RETR " + std::to_string(st.arg);
        mode = Reply::Mode::multi_digest;
        break;
    case Step::dele:
        cmd = "DELE " + std::to_string(st.arg);
        break;
    case Step::quit:
        cmd = "QUIT";
        break;
    case Step::hold:
        c.holding = true;
        --active_;
        barrier_.held.fetch_add(1);
        return false;
    }
    if (!cmd.empty()) {
        c.out.append(cmd).append("\r\n");
    }
    c.candidates.clear();
    if (st.kind == Step::retr && st.arg >= 1 && st.arg <= c.list_sizes.size()) {
        // Compare with the expected bytes of the messages of this LIST size
        // when all of them have expected bytes (Manifest::load_expected);
        // otherwise hash. A message of another size is wrong either way.
        const uint64_t size = c.list_sizes[st.arg - 1];
        bool all = true;
        for (const Message &m : s.user->messages)
            if (m.size == size) {
                all = all && !m.wire.empty();
                c.candidates.push_back(&m);
            }
        if (!all)
            c.candidates.clear();
    }
    if (c.candidates.empty()) {
        c.reply.start(mode);
    } else {
        std::vector<const std::string *> wires;
        for (const Message *m : c.candidates)
            wires.push_back(&m->wire);
        c.reply.start_compare(std::move(wires));
    }
    return true;
}

// check_reply - verify a complete reply for the current step; false (after
// fail()) when it is wrong.
bool Worker::check_reply(Conn &c)
{
    const Session &s = sessions_[c.session];
    const User &u = *s.user;
    const Step &st = s.steps[c.step];
    const Reply &r = c.reply;
    if (!r.ok()) {
        fail(c, "unexpected -ERR: " + r.status());
        return false;
    }
    switch (st.kind) {
    case Step::stat: {
        const std::string want = st.arg == 1 ? "+OK 0 0"
                                             : "+OK " + std::to_string(u.messages.size()) + " " +
                                                   std::to_string(u.total);
        if (r.status() != want && r.status().rfind(want + " ", 0) != 0) {
            fail(c, "STAT said '" + r.status() + "', manifest says '" + want + "'");
            return false;
        }
        break;
    }
    case Step::list: {
        const auto &lines = r.lines();
        if (lines.size() != u.messages.size()) {
            fail(c, "LIST has " + std::to_string(lines.size()) + " lines, manifest " +
                        std::to_string(u.messages.size()));
            return false;
        }
        c.list_sizes.assign(lines.size(), 0);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            uint64_t n = 0, size = 0;
            std::string_view v;
            if (!split_line(lines[i], n, v) || n != i + 1 || !parse_u64(v, size)) {
                fail(c, "bad LIST line '" + std::string(lines[i]) + "'");
                return false;
            }
            c.list_sizes[i] = size;
        }
        std::vector<uint64_t> sorted = c.list_sizes;
        std::sort(sorted.begin(), sorted.end());
        if (sorted != u.sorted_sizes) {
            fail(c, "LIST sizes differ from the manifest's");
            return false;
        }
        break;
    }
    case Step::uidl: {
        const auto &lines = r.lines();
        if (lines.size() != u.messages.size()) {
            fail(c, "UIDL has " + std::to_string(lines.size()) + " lines, manifest " +
                        std::to_string(u.messages.size()));
            return false;
        }
        // Every line is "<i> <uidl>" for i = 1..n in order: the expected
        // number is kept as decimal text and compared, not parsed.
        char num[24] = {'0'};
        std::size_t num_len = 1;
        auto next_number = [&] {
            std::size_t i = num_len;
            while (i > 0 && num[i - 1] == '9')
                num[--i] = '0';
            if (i == 0) {
                std::memmove(num + 1, num, num_len++);
                num[0] = '1';
            } else {
                ++num[i - 1];
            }
        };
        c.have_uidls = false;
        if (c.uidls.size() != lines.size())
            c.uidls.resize(lines.size());
        for (std::size_t i = 0; i < lines.size(); ++i) {
            next_number();
            const std::string_view line = lines[i];
            if (line.size() < num_len + 2 || std::memcmp(line.data(), num, num_len) != 0 ||
                line[num_len] != ' ' || line.size() - num_len - 1 > 70) {
                fail(c, "bad UIDL line '" + std::string(line) + "'");
                return false;
            }
            const std::string_view v = line.substr(num_len + 1);
            for (unsigned char ch : v)
                if (ch < 0x21 || ch > 0x7e) {
                    fail(c, "UIDL with a character outside 0x21-0x7E");
                    return false;
                }
            c.uidls[i] = v;
        }
        // Unique: an open-addressing set of indexes (reserved at start()).
        std::size_t slots = 16;
        while (slots < 2 * lines.size())
            slots *= 2;
        if (c.seen.size() != slots)
            c.seen.assign(slots, 0);
        else
            std::fill(c.seen.begin(), c.seen.end(), 0);
        const std::hash<std::string_view> hash;
        for (std::size_t i = 0; i < c.uidls.size(); ++i) {
            std::size_t h = hash(c.uidls[i]) & (slots - 1);
            while (c.seen[h] != 0) {
                if (c.uidls[c.seen[h] - 1] == c.uidls[i]) {
                    fail(c, "duplicate UIDL " + std::string(c.uidls[i]));
                    return false;
                }
                h = (h + 1) & (slots - 1);
            }
            c.seen[h] = static_cast<uint32_t>(i + 1);
        }
        // Keep the listing (moved, not copied) and point the views into it.
        const char *was = r.text().data();
        auto text = std::make_shared<const std::string>(c.reply.take_text());
        for (auto &v : c.uidls)
            v = std::string_view(text->data() + (v.data() - was), v.size());
        c.uidl_text = text;
        c.have_uidls = true;
        // Lines "1 uidl" .. "n uidl" in order: equal texts, equal listings.
        auto [it, fresh] = uidls_.try_emplace(u.name, text);
        if (!fresh && *it->second != *text) {
            fail(c, "UIDL listing changed between sessions");
            return false;
        }
        break;
    }
    case Step::retr: {
        std::string digest;
        uint64_t want_size = 0;
        if (r.comparing()) {
            if (r.matched() < 0) {
                fail(c, "RETR " + std::to_string(st.arg) + ": bytes match no message of " + u.name +
                            " (compared with the " + std::to_string(c.candidates.size()) +
                            " of its LIST size; " + std::to_string(r.body_size()) + " bytes)");
                return false;
            }
            const Message &m = *c.candidates[static_cast<std::size_t>(r.matched())];
            digest = m.digest;
            want_size = m.size;
        } else {
            auto it = u.by_digest.find(r.digest());
            if (it == u.by_digest.end()) {
                fail(c, "RETR " + std::to_string(st.arg) + ": bytes match no message of " + u.name +
                            " (sha256 " + r.digest() + ", " + std::to_string(r.body_size()) +
                            " bytes)");
                return false;
            }
            digest = r.digest();
            want_size = it->second;
        }
        if (r.body_size() != want_size) {
            fail(c, "RETR " + std::to_string(st.arg) + ": size " + std::to_string(r.body_size()) +
                        " != manifest " + std::to_string(want_size));
            return false;
        }
        if (!c.list_sizes.empty() && c.list_sizes[st.arg - 1] != r.body_size()) {
            fail(c, "RETR " + std::to_string(st.arg) + ": size differs from LIST's");
            return false;
        }
        if (c.have_uidls) {
            std::string key = u.name + '\0' + std::string(c.uidls[st.arg - 1]);
            auto [d, fresh] = uid_digest_.try_emplace(std::move(key), digest);
            if (!fresh && d->second != digest) {
                fail(c, "UIDL " + std::string(c.uidls[st.arg - 1]) + " names different messages");
                return false;
            }
        }
        ++stats_.retr;
        stats_.retr_bytes += r.body_size();
        break;
    }
    default:
        break;
    }
    return true;
}

bool Worker::flush(Conn &c)
{
    while (c.out_off < c.out.size()) {
        const ssize_t n = c.io_write(c.out.data() + c.out_off, c.out.size() - c.out_off);
        if (n == -1)
            return true;
        if (n < 0) {
            fail(c, "write failed");
            return false;
        }
        c.out_off += static_cast<std::size_t>(n);
    }
    c.out.clear();
    c.out_off = 0;
    return true;
}

void Worker::on_event(Conn &c, uint32_t events)
{
    if (c.holding) {
        // A held session must stay quiet and open.
        char buf[512];
        const ssize_t n = c.io_read(buf, sizeof buf);
        if (n == 0)
            fail(c, "connection closed by the server while idle");
        else if (n > 0)
            fail(c, "unexpected data while idle: " + std::string(buf, static_cast<std::size_t>(n)));
        else if (n == -2)
            fail(c, "read failed while idle");
        return;
    }
    if (c.connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            fail(c, std::string("connect: ") + std::strerror(err));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN)))
            return;
        c.connecting = false;
        if (cfg_.tls != nullptr) {
            c.ssl = SSL_new(cfg_.tls);
            SSL_set_fd(c.ssl, c.fd);
            SSL_set_ex_data(c.ssl, worker_index(), this);
            if (cfg_.tls_resume)
                if (SSL_SESSION *ticket = take_session()) {
                    SSL_set_session(c.ssl, ticket); // takes its own reference
                    SSL_SESSION_free(ticket);
                }
            c.handshaking = true;
        } else if (!begin_step(c)) {
            return;
        }
    }
    if (c.handshaking) {
        const int r = SSL_connect(c.ssl);
        if (r != 1) {
            const int e = SSL_get_error(c.ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                c.want_write = e == SSL_ERROR_WANT_WRITE;
                watch(c);
                return;
            }
            char buf[256];
            ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
            fail(c, std::string("TLS handshake failed: ") + buf);
            return;
        }
        c.handshaking = false;
        c.want_write = false;
        ++stats_.tls_handshakes;
        if (SSL_session_reused(c.ssl))
            ++stats_.tls_resumed;
        if (!begin_step(c))
            return;
    }
    drive(c);
}

void Worker::drive(Conn &c)
{
    // Until the socket would block: with TLS, bytes already decrypted into
    // OpenSSL's buffer raise no epoll event, so stopping early could stall.
    while (true) {
        if (c.fd < 0 || c.holding)
            return;
        if (!flush(c))
            return;
        // Parse what is buffered first, then read more.
        bool progressed = false;
        while (c.in_head < c.in_tail) {
            Reply::State state;
            const std::size_t used =
                c.reply.feed(c.in.get() + c.in_head, c.in_tail - c.in_head, state);
            c.in_head += used;
            if (state == Reply::State::error) {
                fail(c, "framing: " + c.reply.error());
                return;
            }
            if (state == Reply::State::partial)
                break;
            if (!check_reply(c))
                return;
            ++c.step;
            progressed = true;
            if (!begin_step(c))
                return;
            if (!flush(c))
                return;
        }
        if (c.in_head == c.in_tail) {
            c.in_head = c.in_tail = 0;
        } else if (c.in_head > 0 && c.in_tail == c.in_size) {
            std::memmove(c.in.get(), c.in.get() + c.in_head, c.in_tail - c.in_head);
            c.in_tail -= c.in_head;
            c.in_head = 0;
        }
        if (c.in_tail == c.in_size) {
            fail(c, "reply line too long for the buffer");
            return;
        }
        const ssize_t n = c.io_read(c.in.get() + c.in_tail, c.in_size - c.in_tail);
        if (n == -1) {
            if (!progressed)
                break;
            continue;
        }
        if (n == 0) {
            fail(c, "connection closed by the server");
            return;
        }
        if (n < 0) {
            fail(c, "read failed");
            return;
        }
        c.in_tail += static_cast<std::size_t>(n);
    }
    if (c.fd >= 0)
        watch(c);
}

void Worker::run()
{
    const std::size_t total = sessions_.size();
    std::vector<epoll_event> events(256);
    bool released = false;
    while (true) {
        while (active_ < cfg_.concurrency && next_ < total)
            start(next_++);
        if (!released && barrier_.release.load()) {
            released = true;
            for (auto &c : conns_)
                if (c && c->holding && c->fd >= 0) {
                    c->holding = false;
                    ++active_;
                    ++c->step;
                    if (begin_step(*c))
                        drive(*c);
                }
        }
        bool any_open = false;
        for (auto &c : conns_)
            if (c && c->fd >= 0) {
                any_open = true;
                break;
            }
        if (!any_open && next_ >= total)
            break;
        if (Clock::now() > cfg_.deadline) {
            for (auto &c : conns_)
                if (c && c->fd >= 0)
                    fail(*c, "time limit reached");
            stats_.errors += total - next_;
            break;
        }
        const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), 50);
        for (int i = 0; i < n; ++i) {
            Conn &c = *static_cast<Conn *>(events[static_cast<std::size_t>(i)].data.ptr);
            if (c.fd >= 0)
                on_event(c, events[static_cast<std::size_t>(i)].events);
        }
        // Drop finished connections now and then (their Conn memory).
        if (conns_.size() > 4 * cfg_.concurrency + 64) {
            std::erase_if(conns_, [](const std::unique_ptr<Conn> &c) { return c->fd < 0; });
        }
    }
}

} // namespace bench
