// parser.cpp - the configuration reader behind parser.hpp.
//
// DIAGNOSTICS: unreadable files, malformed lines, bad section headers,
// duplicate sections, include loops and depth, all as FILE:LINE messages.
#include "config/parser.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace modpop3d::config
{

namespace
{

constexpr int max_include_depth = 8;
constexpr std::size_t max_line_length = 8192;

std::string trim(const std::string &s)
{
    auto begin = s.find_first_not_of(" \t\r");
    if (begin == std::string::npos)
        return "";
    auto end = s.find_last_not_of(" \t\r");
    return s.substr(begin, end - begin + 1);
}

// skipped_by_include - editor backups and package-manager leftovers are never
// read, so that "dpkg --configure" leftovers cannot change the server.
bool skipped_by_include(const std::string &name)
{
    if (name.empty() || name[0] == '.' || name.back() == '~')
        return true;
    return name.find(".dpkg-") != std::string::npos || name.find(".rpm") != std::string::npos ||
           name.find(".ucf-") != std::string::npos;
}

// glob_match - '*' matches any run of characters, '?' one character.
bool glob_match(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*')
        return glob_match(pat + 1, s) || (*s != '\0' && glob_match(pat, s + 1));
    if (*s == '\0')
        return false;
    return (*pat == '?' || *pat == *s) && glob_match(pat + 1, s + 1);
}

class Reader
{
  public:
    Reader(ConfigText &out, Diagnostics &diags) : out_(out), diags_(diags)
    {
        out_.sections.push_back(Section{});
    }

    void read_file(const std::filesystem::path &path, const Location &from, int depth)
    {
        std::error_code ec;
        auto canonical = std::filesystem::weakly_canonical(path, ec);
        std::string key = ec ? path.string() : canonical.string();
        if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
            diags_.error(from, "include loop: " + path.string() + " includes itself");
            return;
        }
        std::ifstream in(path);
        if (!in) {
            if (from.line > 0)
                diags_.error(from, "cannot read included file " + path.string());
            else
                diags_.plain(path.string() + ": cannot read the configuration file");
            return;
        }
        std::stringstream buf;
        buf << in.rdbuf();
        stack_.push_back(key);
        read_text(buf.str(), path.string(), path.parent_path(), depth);
        stack_.pop_back();
    }

    void read_text(const std::string &text, const std::string &name,
                   const std::filesystem::path &base, int depth)
    {
        // An included file starts in the global section; the includer goes
        // on in the section it was in.
        std::size_t saved = current_;
        current_ = 0;
        std::istringstream in(text);
        std::string raw;
        int lineno = 0;
        while (std::getline(in, raw)) {
            ++lineno;
            Location where{name, lineno};
            if (raw.size() > max_line_length) {
                diags_.error(where, "line longer than 8192 bytes");
                continue;
            }
            std::string line = trim(raw);
            if (line.empty() || line[0] == '#')
                continue;
            if (line[0] == '[') {
                header(line, where);
                continue;
            }
            if (line.rfind("include", 0) == 0 && line.size() > 7 &&
                (line[7] == ' ' || line[7] == '\t')) {
                include(trim(line.substr(7)), base, where, depth);
                continue;
            }
            auto colon = line.find(':');
            if (colon == std::string::npos) {
                diags_.error(where, "expected 'key: value', '[section]' or 'include PATTERN', "
                                    "got '" +
                                        line.substr(0, 60) + "'");
                continue;
            }
            std::string key = trim(line.substr(0, colon));
            std::string value = trim(line.substr(colon + 1));
            if (key.empty() || key.find_first_of(" \t") != std::string::npos) {
                diags_.error(where, "malformed key '" + key + "'");
                continue;
            }
            out_.sections[current_].entries.push_back(Entry{key, value, where});
        }
        current_ = saved;
    }

  private:
    void header(const std::string &line, const Location &where)
    {
        if (line.back() != ']') {
            diags_.error(where, "section header must end with ']'");
            return;
        }
        std::string body = trim(line.substr(1, line.size() - 2));
        std::string module = body, instance;
        auto slash = body.find('/');
        if (slash != std::string::npos) {
            module = body.substr(0, slash);
            instance = body.substr(slash + 1);
        }
        if (!is_valid_module_name(module)) {
            diags_.error(where, "bad section name '" + body +
                                    "': use [module] or [module/instance], e.g. [auth_pam]");
            return;
        }
        if (slash != std::string::npos && !is_valid_instance(instance)) {
            diags_.error(where,
                         "bad instance name '" + instance + "': use letters, digits, '-' and '_'");
            return;
        }
        Section s;
        s.module = module;
        s.instance = instance;
        s.where = where;
        auto label = s.label();
        auto seen = labels_.find(label);
        if (seen != labels_.end()) {
            diags_.error(where, "section [" + label + "] already defined at " + seen->second.str() +
                                    "; give each instance its own name: [" + module + "/NAME]");
            return;
        }
        labels_[label] = where;
        out_.sections.push_back(std::move(s));
        current_ = out_.sections.size() - 1;
    }

    static bool is_valid_instance(const std::string &s)
    {
        if (s.empty() || s.size() > 64)
            return false;
        return std::all_of(s.begin(), s.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
        });
    }

    void include(const std::string &pattern, const std::filesystem::path &base,
                 const Location &where, int depth)
    {
        if (depth >= max_include_depth) {
            diags_.error(where, "includes nested deeper than 8 levels");
            return;
        }
        if (pattern.empty()) {
            diags_.error(where, "include needs a file name or pattern");
            return;
        }
        std::filesystem::path p(pattern);
        if (p.is_relative())
            p = base / p;
        std::string leaf = p.filename().string();
        if (leaf.find_first_of("*?") == std::string::npos) {
            read_file(p, where, depth + 1);
            return;
        }
        std::vector<std::string> names;
        std::error_code ec;
        for (auto it = std::filesystem::directory_iterator(p.parent_path(), ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (skipped_by_include(name) || !glob_match(leaf.c_str(), name.c_str()))
                continue;
            if (!it->is_regular_file())
                continue;
            names.push_back(name);
        }
        // A missing conf.d directory is not an error: it just holds nothing.
        std::sort(names.begin(), names.end());
        for (const auto &name : names)
            read_file(p.parent_path() / name, where, depth + 1);
    }

    ConfigText &out_;
    Diagnostics &diags_;
    std::size_t current_ = 0;
    std::vector<std::string> stack_;
    std::map<std::string, Location> labels_;
};

} // namespace

bool is_valid_module_name(const std::string &name)
{
    if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z')
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

ConfigText parse_file(const std::string &path, Diagnostics &diags)
{
    ConfigText out;
    out.main_file = path;
    Reader reader(out, diags);
    reader.read_file(path, Location{path, 0}, 0);
    return out;
}

ConfigText parse_string(const std::string &text, const std::string &name, Diagnostics &diags)
{
    ConfigText out;
    out.main_file = name;
    Reader reader(out, diags);
    reader.read_text(text, name, std::filesystem::current_path(), 0);
    return out;
}

} // namespace modpop3d::config
