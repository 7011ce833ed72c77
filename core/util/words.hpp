// words.hpp - split a configuration value into words (listen options,
// tls-sni entries, mechanism lists).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::util
{

// split_words - the non-empty runs of `text` between any of `separators`.
inline std::vector<std::string> split_words(std::string_view text,
                                            std::string_view separators = " \t")
{
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t end = text.find_first_of(separators, i);
        if (end == std::string_view::npos)
            end = text.size();
        if (end > i)
            words.emplace_back(text.substr(i, end - i));
        i = end + 1;
    }
    return words;
}

} // namespace modpop3d::util
