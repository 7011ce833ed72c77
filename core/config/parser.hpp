// parser.hpp - read modpop3d.conf and its includes into sections of entries.
//
// Syntax (tpop3d.conf(5) style): "key: value" lines, "#" comment lines,
// "[module]" or "[module/instance]" section headers, and "include PATTERN"
// (relative to the including file; "*" in the last component; files taken in
// lexical order; dotfiles, "*~", "*.dpkg-*" and "*.rpm*" skipped). Keys before
// any header belong to the core's global section. Nothing is interpreted
// here: types and known keys are the schema's business.
#pragma once

#include "config/diagnostics.hpp"

#include <string>
#include <vector>

namespace modpop3d::config
{

struct Entry {
    std::string key;
    std::string value;
    Location where;
};

struct Section {
    std::string module;   // "" for the global (core) section
    std::string instance; // "" when the header has no "/instance"
    Location where;       // the header line
    std::vector<Entry> entries;

    std::string label() const { return instance.empty() ? module : module + "/" + instance; }
};

struct ConfigText {
    std::string main_file;
    std::vector<Section> sections; // sections[0] is the global section
};

// parse_file - read `path` and everything it includes. Problems are added to
// `diags`; parsing goes on after an error so that all of them are reported.
ConfigText parse_file(const std::string &path, Diagnostics &diags);

// parse_string - the same for text held in memory (tests, the harness);
// `name` stands for the file name in messages; includes are resolved
// relative to the current directory.
ConfigText parse_string(const std::string &text, const std::string &name, Diagnostics &diags);

// is_valid_module_name - lower-case letters, digits and '_', starting with a
// letter: the name becomes a file name, so nothing else is allowed.
bool is_valid_module_name(const std::string &name);

} // namespace modpop3d::config
