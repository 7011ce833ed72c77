// manifest.cpp - parsing of storegen's manifest; see manifest.hpp.
#include "manifest.hpp"

#include "reply.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <openssl/evp.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace bench
{

bool Manifest::load(const std::string &path, std::string &why)
{
    std::ifstream in(path);
    if (!in) {
        why = "cannot open " + path;
        return false;
    }
    std::string line;
    unsigned lineno = 0;
    User *cur = nullptr;
    while (std::getline(in, line)) {
        ++lineno;
        std::istringstream f(line);
        std::string kind;
        f >> kind;
        if (kind == "user") {
            User u;
            std::size_t count = 0;
            f >> u.name >> u.password >> count >> u.total;
            if (!f) {
                why = path + ":" + std::to_string(lineno) + ": bad user line";
                return false;
            }
            u.messages.reserve(count);
            index_[u.name] = users_.size();
            users_.push_back(std::move(u));
            cur = &users_.back();
        } else if (kind == "msg") {
            Message m;
            f >> m.size >> m.digest;
            if (!f || cur == nullptr || m.digest.size() != 64) {
                why = path + ":" + std::to_string(lineno) + ": bad msg line";
                return false;
            }
            f >> m.path; // optional
            cur->messages.push_back(std::move(m));
        } else if (kind != "manifest" && !kind.empty()) {
            why = path + ":" + std::to_string(lineno) + ": unknown record " + kind;
            return false;
        }
    }
    for (User &u : users_) {
        uint64_t total = 0;
        for (const Message &m : u.messages) {
            total += m.size;
            u.sorted_sizes.push_back(m.size);
            u.by_digest.emplace(m.digest, m.size);
        }
        std::sort(u.sorted_sizes.begin(), u.sorted_sizes.end());
        if (total != u.total) {
            why = path + ": user " + u.name + ": sizes do not add up to the total";
            return false;
        }
    }
    return true;
}

namespace
{

// wire - storegen's definition of the RETR bytes: every LF becomes CRLF,
// then every line starting with '.' gets one more '.'.
std::string wire(const std::string &raw)
{
    std::string out;
    out.reserve(raw.size() + raw.size() / 16 + 8);
    bool bol = true;
    std::size_t i = 0;
    while (i < raw.size()) {
        if (bol && raw[i] == '.')
            out += '.';
        const std::size_t lf = raw.find('\n', i);
        const std::size_t end = lf == std::string::npos ? raw.size() : lf;
        out.append(raw, i, end - i);
        if (lf == std::string::npos)
            break;
        out += "\r\n";
        i = lf + 1;
        bol = true;
    }
    return out;
}

bool read_file(const std::string &path, std::string &out)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st {
    };
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (ok) {
        out.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (ok && got < out.size()) {
            const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
            ok = n > 0;
            got += ok ? static_cast<std::size_t>(n) : 0;
        }
    }
    ::close(fd);
    return ok;
}

std::string sha256_hex(const std::string &data)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return hex_digest(md, len);
}

} // namespace

std::size_t Manifest::load_expected(const std::string &store,
                                    const std::vector<const User *> &users, std::size_t &mismatched)
{
    std::size_t loaded = 0;
    mismatched = 0;
    for (const User *cu : users) {
        User &u = users_[index_.at(cu->name)];
        for (Message &m : u.messages) {
            m.wire.clear();
            if (m.path.empty())
                continue;
            std::string raw;
            if (!read_file(store + "/" + m.path, raw))
                continue; // not a file (mbox) or not there: hashed instead
            std::string w = wire(raw);
            if (sha256_hex(w) != m.digest) {
                ++mismatched;
                continue;
            }
            m.wire = std::move(w);
            ++loaded;
        }
    }
    return loaded;
}

const User *Manifest::find(const std::string &name) const
{
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &users_[it->second];
}

std::vector<const User *> Manifest::users_with_prefix(const std::string &prefix) const
{
    if (const User *u = find(prefix))
        return {u};
    std::vector<const User *> out;
    for (const User &u : users_)
        if (u.name.compare(0, prefix.size(), prefix) == 0)
            out.push_back(&u);
    return out;
}

} // namespace bench
