// manifest.cpp - parsing of storegen's manifest; see manifest.hpp.
#include "manifest.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

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
