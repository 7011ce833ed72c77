// diagnostics.hpp - where a configuration item came from, and the list of
// problems found while reading and checking the configuration. Every message
// is printed as "FILE:LINE: text" so that admins can jump to it.
#pragma once

#include <string>
#include <vector>

namespace modpop3d::config
{

struct Location {
    std::string file;
    int line = 0;

    std::string str() const { return line > 0 ? file + ":" + std::to_string(line) : file; }
};

class Diagnostics
{
  public:
    void error(const Location &where, std::string text)
    {
        lines_.push_back(where.str() + ": " + std::move(text));
    }
    void plain(std::string text) { lines_.push_back(std::move(text)); }
    bool empty() const { return lines_.empty(); }
    std::size_t size() const { return lines_.size(); }
    const std::vector<std::string> &lines() const { return lines_; }

  private:
    std::vector<std::string> lines_;
};

} // namespace modpop3d::config
