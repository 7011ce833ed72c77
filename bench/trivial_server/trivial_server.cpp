// trivial_server.cpp - a minimal in-memory POP3 responder, to measure the load
// generator's own ceiling (and, with --corrupt, to prove that the load
// generator catches wrong bytes). It serves a storegen store: on PASS (any
// password) it loads USER's Maildir once, sorted by name, into memory as
// ready-made RETR wire bytes; every later session is served from memory.
// One thread, one epoll loop, 127.0.0.1 only. Not a POP3 server for use.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sstream>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace
{

struct Msg {
    std::string uid;
    std::string wire; // CRLF, dot-stuffed, without the terminator
    std::size_t size = 0;
};

struct Box {
    std::vector<Msg> msgs;
    std::size_t total = 0;
};

std::string store_root;
unsigned corrupt_every = 0; // 0: never
unsigned long retr_count = 0;
std::map<std::string, std::unique_ptr<Box>> boxes;

Msg load_msg(const std::string &path, const std::string &name)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string raw = ss.str();
    Msg m;
    m.uid = name.substr(0, name.find(':'));
    m.wire.reserve(raw.size() + raw.size() / 20);
    bool bol = true;
    for (char ch : raw) {
        if (bol && ch == '.')
            m.wire += '.';
        if (ch == '\n') {
            m.wire += "\r\n";
            m.size += 2;
            bol = true;
        } else {
            m.wire += ch;
            ++m.size;
            bol = false;
        }
    }
    return m;
}

const Box *load(const std::string &user)
{
    auto it = boxes.find(user);
    if (it != boxes.end())
        return it->second.get();
    if (user.find('/') != std::string::npos || user.empty() || user[0] == '.')
        return nullptr;
    std::vector<std::pair<std::string, std::string>> files; // name, path
    for (const char *sub : {"new", "cur"}) {
        const std::string dir = store_root + "/" + user + "/Maildir/" + sub;
        DIR *d = opendir(dir.c_str());
        if (d == nullptr)
            continue;
        while (dirent *e = readdir(d))
            if (e->d_name[0] != '.')
                files.emplace_back(e->d_name, dir + "/" + e->d_name);
        closedir(d);
    }
    std::sort(files.begin(), files.end());
    auto box = std::make_unique<Box>();
    for (const auto &[name, path] : files) {
        box->msgs.push_back(load_msg(path, name));
        box->total += box->msgs.back().size;
    }
    const Box *b = box.get();
    boxes[user] = std::move(box);
    return b;
}

struct Client {
    int fd = -1;
    std::string user;
    const Box *box = nullptr;
    std::vector<bool> deleted;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
    const std::string *body = nullptr; // RETR body streamed from the cache
    std::size_t body_off = 0;
    bool closing = false;
};

void reply(Client &c, const std::string &line)
{
    c.out += line;
    c.out += "\r\n";
}

void command(Client &c, const std::string &line)
{
    const auto sp = line.find(' ');
    std::string verb = line.substr(0, sp);
    for (char &ch : verb)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
    auto number = [&](std::size_t &idx) {
        const unsigned long n = std::strtoul(arg.c_str(), nullptr, 10);
        if (c.box == nullptr || n == 0 || n > c.box->msgs.size() || c.deleted[n - 1])
            return false;
        idx = n - 1;
        return true;
    };
    std::size_t idx = 0;
    if (verb == "QUIT") {
        reply(c, "+OK bye");
        c.closing = true;
    } else if (c.box == nullptr) {
        if (verb == "USER") {
            c.user = arg;
            reply(c, "+OK");
        } else if (verb == "PASS" && !c.user.empty() && (c.box = load(c.user)) != nullptr) {
            c.deleted.assign(c.box->msgs.size(), false);
            reply(c, "+OK logged in");
        } else {
            reply(c, "-ERR no");
        }
    } else if (verb == "STAT") {
        std::size_t n = 0, total = 0;
        for (std::size_t i = 0; i < c.box->msgs.size(); ++i)
            if (!c.deleted[i])
                ++n, total += c.box->msgs[i].size;
        reply(c, "+OK " + std::to_string(n) + " " + std::to_string(total));
    } else if (verb == "LIST" || verb == "UIDL") {
        reply(c, "+OK");
        for (std::size_t i = 0; i < c.box->msgs.size(); ++i)
            if (!c.deleted[i])
                reply(c, std::to_string(i + 1) + " " +
                             (verb == "LIST" ? std::to_string(c.box->msgs[i].size)
                                             : c.box->msgs[i].uid));
        reply(c, ".");
    } else if (verb == "RETR" && number(idx)) {
        reply(c, "+OK");
        ++retr_count;
        if (corrupt_every != 0 && retr_count % corrupt_every == 0) {
            std::string bad = c.box->msgs[idx].wire;
            bad[bad.size() / 2] ^= 1; // one flipped bit
            c.out += bad;
            c.out += ".\r\n";
        } else {
            c.body = &c.box->msgs[idx].wire;
            c.body_off = 0;
        }
    } else if (verb == "DELE" && number(idx)) {
        c.deleted[idx] = true; // not written back: the store stays as it is
        reply(c, "+OK");
    } else if (verb == "NOOP" || verb == "RSET") {
        if (verb == "RSET")
            c.deleted.assign(c.deleted.size(), false);
        reply(c, "+OK");
    } else {
        reply(c, "-ERR unknown");
    }
}

// pump - write what is queued; false when the client is gone.
bool pump(Client &c)
{
    while (true) {
        const char *p;
        std::size_t n;
        if (c.out_off < c.out.size()) {
            p = c.out.data() + c.out_off;
            n = c.out.size() - c.out_off;
        } else if (c.body != nullptr) {
            if (c.body_off == c.body->size()) {
                c.body = nullptr;
                c.out.clear();
                c.out_off = 0;
                c.out += ".\r\n";
                continue;
            }
            p = c.body->data() + c.body_off;
            n = c.body->size() - c.body_off;
        } else {
            c.out.clear();
            c.out_off = 0;
            return !c.closing;
        }
        const ssize_t w = send(c.fd, p, n, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN;
        if (c.out_off < c.out.size())
            c.out_off += static_cast<std::size_t>(w);
        else
            c.body_off += static_cast<std::size_t>(w);
    }
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--port")
            port = std::atoi(argv[i + 1]);
        else if (a == "--store")
            store_root = argv[i + 1];
        else if (a == "--corrupt")
            corrupt_every = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    if (store_root.empty()) {
        std::fprintf(stderr, "usage: trivial_server --store DIR [--port N] [--corrupt EVERY]\n");
        return 2;
    }
    const int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(ls, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 || listen(ls, 1024) < 0 ||
        getsockname(ls, reinterpret_cast<sockaddr *>(&sa), &len) < 0) {
        std::perror("trivial_server");
        return 1;
    }
    std::printf("listening 127.0.0.1:%u\n", ntohs(sa.sin_port));
    std::fflush(stdout);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    std::vector<epoll_event> events(256);
    while (true) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            auto *c = static_cast<Client *>(events[static_cast<std::size_t>(i)].data.ptr);
            if (c == nullptr) {
                while (true) {
                    const int fd = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    auto *nc = new Client;
                    nc->fd = fd;
                    reply(*nc, "+OK trivial ready");
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
                    cev.data.ptr = nc;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    pump(*nc);
                }
                continue;
            }
            bool alive = true;
            char buf[16384];
            while (alive) {
                const ssize_t r = read(c->fd, buf, sizeof buf);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    alive = false;
                    break;
                }
                if (r < 0)
                    break;
                c->in.append(buf, static_cast<std::size_t>(r));
            }
            std::size_t nl;
            while (alive && c->body == nullptr && c->out.empty() &&
                   (nl = c->in.find("\r\n")) != std::string::npos) {
                const std::string line = c->in.substr(0, nl);
                c->in.erase(0, nl + 2);
                command(*c, line);
                alive = pump(*c);
            }
            if (alive)
                alive = pump(*c);
            // Commands that arrived while a reply was still going out.
            while (alive && c->body == nullptr && c->out.empty() &&
                   (nl = c->in.find("\r\n")) != std::string::npos) {
                const std::string line = c->in.substr(0, nl);
                c->in.erase(0, nl + 2);
                command(*c, line);
                alive = pump(*c);
            }
            if (!alive) {
                close(c->fd);
                delete c;
            }
        }
    }
}
