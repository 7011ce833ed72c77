// encoder_test.cpp - MessageEncoder and pop3_size, byte-exact: CRLF
// normalisation, dot-stuffing, TOP limits, chunk boundaries anywhere.
#include "pop3/encoder.hpp"
#include "pop3/message_size.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace modpop3d::pop3
{
namespace
{

using namespace std::string_literals;

std::string encode(std::string_view raw, std::optional<uint32_t> top = std::nullopt)
{
    MessageEncoder enc(top);
    std::string out;
    enc.encode(raw, out);
    enc.finish(out);
    return out;
}

// encode_chunks - the same message cut at the given offsets.
std::string encode_chunks(std::string_view raw, const std::vector<std::size_t> &cuts,
                          std::optional<uint32_t> top = std::nullopt)
{
    MessageEncoder enc(top);
    std::string out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        enc.encode(raw.substr(from, cut - from), out);
        from = cut;
    }
    enc.encode(raw.substr(from), out);
    enc.finish(out);
    return out;
}

TEST(Encoder, LfBecomesCrlf)
{
    EXPECT_EQ(encode("Subject: a\n\nbody\n"), "Subject: a\r\n\r\nbody\r\n.\r\n");
}

TEST(Encoder, CrlfIsKept)
{
    EXPECT_EQ(encode("Subject: a\r\n\r\nbody\r\n"), "Subject: a\r\n\r\nbody\r\n.\r\n");
}

TEST(Encoder, MixedLineEnds)
{
    EXPECT_EQ(encode("a\r\nb\nc\r\n\nd\n"), "a\r\nb\r\nc\r\n\r\nd\r\n.\r\n");
}

TEST(Encoder, MissingFinalNewlineIsAdded)
{
    EXPECT_EQ(encode("a\n\nlast"), "a\r\n\r\nlast\r\n.\r\n");
    EXPECT_EQ(encode("x"), "x\r\n.\r\n");
}

TEST(Encoder, EmptyMessage)
{
    EXPECT_EQ(encode(""), ".\r\n");
    EXPECT_EQ(encode("", 0), ".\r\n");
}

TEST(Encoder, OnlyANewline)
{
    EXPECT_EQ(encode("\n"), "\r\n.\r\n");
    EXPECT_EQ(encode("\r\n"), "\r\n.\r\n");
}

TEST(Encoder, EveryLineStartingWithADotIsStuffed)
{
    MessageEncoder enc;
    std::string out;
    enc.encode(".\n..\n.x\r\nx.\n. \n", out);
    enc.finish(out);
    EXPECT_EQ(out, "..\r\n...\r\n..x\r\nx.\r\n.. \r\n.\r\n");
    EXPECT_EQ(enc.stuffed_dots(), 4u);
}

TEST(Encoder, DotOnTheLastUnterminatedLine)
{
    EXPECT_EQ(encode("a\n."), "a\r\n..\r\n.\r\n");
    EXPECT_EQ(encode("."), "..\r\n.\r\n");
}

TEST(Encoder, NulAnd8BitBytesPassThrough)
{
    const std::string raw = "H: \xe9\xff\n\nbo\0dy\x80\n\0\n"s;
    EXPECT_EQ(encode(raw), "H: \xe9\xff\r\n\r\nbo\0dy\x80\r\n\0\r\n.\r\n"s);
}

TEST(Encoder, BareCrIsData)
{
    EXPECT_EQ(encode("a\rb\n"), "a\rb\r\n.\r\n");
    EXPECT_EQ(encode("a\r"), "a\r\r\n.\r\n");
    EXPECT_EQ(encode("\r.x\n"), "\r.x\r\n.\r\n") << "a CR is content: the dot is not at line start";
    EXPECT_EQ(encode("a\r\r\n"), "a\r\r\n.\r\n");
}

TEST(EncoderTop, HeadersBlankLineAndNBodyLines)
{
    const std::string raw = "A: 1\nB: 2\n\nl1\nl2\nl3\n";
    EXPECT_EQ(encode(raw, 0), "A: 1\r\nB: 2\r\n\r\n.\r\n");
    EXPECT_EQ(encode(raw, 1), "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
    EXPECT_EQ(encode(raw, 2), "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
    EXPECT_EQ(encode(raw, 3), encode(raw));
    EXPECT_EQ(encode(raw, 4000000000u), encode(raw));
}

TEST(EncoderTop, NoBlankLineMeansAllHeaders)
{
    EXPECT_EQ(encode("A: 1\nB: 2\n", 0), "A: 1\r\nB: 2\r\n.\r\n");
    EXPECT_EQ(encode("A: 1\nB: 2", 0), "A: 1\r\nB: 2\r\n.\r\n");
}

TEST(EncoderTop, EmptyBodyAndShortBody)
{
    EXPECT_EQ(encode("A: 1\n\n", 5), "A: 1\r\n\r\n.\r\n");
    EXPECT_EQ(encode("A: 1\n\nonly", 5), "A: 1\r\n\r\nonly\r\n.\r\n");
    EXPECT_EQ(encode("\nbody\n", 0), "\r\n.\r\n") << "empty header section";
}

TEST(EncoderTop, BodyLinesAreStuffedAndBlankBodyLinesCount)
{
    EXPECT_EQ(encode("A: 1\r\n\r\n.dot\r\n\r\nthird\r\n", 2), "A: 1\r\n\r\n..dot\r\n\r\n.\r\n");
}

TEST(EncoderTop, ReportsTheLimitAndIgnoresTheRest)
{
    MessageEncoder enc(1);
    std::string out;
    EXPECT_FALSE(enc.encode("A: 1\n\nfirst", out));
    EXPECT_FALSE(enc.limit_reached());
    EXPECT_TRUE(enc.encode("\nsecond\n", out));
    EXPECT_TRUE(enc.limit_reached());
    EXPECT_TRUE(enc.encode("more\n", out));
    enc.finish(out);
    EXPECT_EQ(out, "A: 1\r\n\r\nfirst\r\n.\r\n");
}

TEST(EncoderTop, LimitReachedAtTheExactByte)
{
    const std::string raw = "A: 1\r\n\r\nx\r\ny\r\n";
    for (uint32_t n = 0; n <= 2; ++n) {
        MessageEncoder enc(n);
        std::string out;
        std::size_t reached_at = 0;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (enc.encode(raw.substr(i, 1), out)) {
                reached_at = i + 1;
                break;
            }
        }
        const std::size_t expected[] = {8, 11, 14}; // just after each LF
        EXPECT_EQ(reached_at, expected[n]) << "n=" << n;
    }
    MessageEncoder retr;
    std::string out;
    EXPECT_FALSE(retr.encode(raw, out)) << "RETR never reports a limit";
}

TEST(EncoderTop, DotStuffedHeaderLines)
{
    EXPECT_EQ(encode(".A: 1\n\nb\n", 0), "..A: 1\r\n\r\n.\r\n");
}

// The message that exercises every rule at once.
const std::string tricky = ".H: 1\r\nX: \0\xff\n\r\n.\n..b\rc\r\n\n.last"s;

TEST(EncoderChunks, EverySplitPointGivesTheSameBytes)
{
    const std::string whole = encode(tricky);
    EXPECT_EQ(whole, "..H: 1\r\nX: \0\xff\r\n\r\n..\r\n...b\rc\r\n\r\n..last\r\n.\r\n"s);
    for (std::size_t i = 0; i <= tricky.size(); ++i)
        EXPECT_EQ(encode_chunks(tricky, {i}), whole) << "cut at " << i;
}

TEST(EncoderChunks, EveryPairOfSplitPoints)
{
    for (std::optional<uint32_t> top : {std::optional<uint32_t>(), std::optional<uint32_t>(0),
                                        std::optional<uint32_t>(1), std::optional<uint32_t>(2)}) {
        const std::string whole = encode(tricky, top);
        for (std::size_t i = 0; i <= tricky.size(); ++i)
            for (std::size_t j = i; j <= tricky.size(); ++j)
                ASSERT_EQ(encode_chunks(tricky, {i, j}, top), whole)
                    << "cuts " << i << "," << j << " top " << top.value_or(999);
    }
}

TEST(EncoderChunks, ByteByByte)
{
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < tricky.size(); ++i)
        cuts.push_back(i);
    EXPECT_EQ(encode_chunks(tricky, cuts), encode(tricky));
    EXPECT_EQ(encode_chunks(tricky, cuts, 1), encode(tricky, 1));
}

TEST(EncoderChunks, EmptyChunksChangeNothing)
{
    MessageEncoder enc;
    std::string out;
    enc.encode("", out);
    enc.encode("a\r", out);
    enc.encode("", out);
    enc.encode("\n.b", out);
    enc.encode("", out);
    enc.finish(out);
    EXPECT_EQ(out, "a\r\n..b\r\n.\r\n");
}

// reference - the rules of encoder.hpp applied a line at a time, written
// independently of the encoder's chunked fast path: a line ends at LF (a CR
// right before it belongs to the line end), any other CR is data, a line
// starting with '.' gets another, an unterminated last line gets CRLF.
std::string reference(std::string_view raw, std::optional<uint32_t> top = std::nullopt)
{
    std::string out;
    bool in_headers = true;
    uint32_t body = 0;
    std::size_t i = 0;
    while (i < raw.size()) {
        const std::size_t lf = raw.find('\n', i);
        const bool terminated = lf != std::string_view::npos;
        std::string_view line = raw.substr(i, (terminated ? lf : raw.size()) - i);
        if (terminated && !line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (!line.empty() && line.front() == '.')
            out += '.';
        out.append(line);
        out += "\r\n";
        i = terminated ? lf + 1 : raw.size();
        if (in_headers) {
            if (line.empty()) {
                in_headers = false;
                if (top && *top == 0)
                    break;
            }
        } else if (top && ++body >= *top) {
            break;
        }
    }
    return out + ".\r\n";
}

TEST(EncoderFastPath, AppendsAfterWhatIsInTheBuffer)
{
    MessageEncoder enc;
    std::string out = "+OK 12 octets\r\n";
    enc.encode(".a\nb", out);
    enc.encode("\r", out);
    enc.encode("\n", out);
    enc.finish(out);
    EXPECT_EQ(out, "+OK 12 octets\r\n..a\r\nb\r\n.\r\n");
}

TEST(EncoderFastPath, LinesLongerThanAChunkAreStuffedOnceAtTheirStart)
{
    const std::string line = "." + std::string(100000, 'x') + ".y\r";
    const std::string raw = line + "\n" + line + "." + "\n";
    const std::string want = reference(raw);
    EXPECT_EQ(want.substr(0, 3), "..x");
    for (std::size_t chunk : {1u, 7u, 4096u, 65536u, 1u << 20}) {
        std::vector<std::size_t> cuts;
        for (std::size_t c = chunk; c < raw.size(); c += chunk)
            cuts.push_back(c);
        EXPECT_EQ(encode_chunks(raw, cuts), want) << "chunk " << chunk;
    }
}

TEST(EncoderFastPath, WorstCaseGrowthInOneChunk)
{
    // Every line as short as it gets: the output doubles.
    std::string raw;
    for (int i = 0; i < 50000; ++i)
        raw += i % 2 ? ".\n" : "\n";
    EXPECT_EQ(encode(raw), reference(raw));
    const std::string crs(70000, '\r'); // one data CR after another, then a line end
    EXPECT_EQ(encode(crs + "\n"), reference(crs + "\n"));
    EXPECT_EQ(encode_chunks(crs, {1, 2, 65536}), reference(crs));
}

TEST(EncoderFastPath, CrAtAChunkEndThenDot)
{
    EXPECT_EQ(encode_chunks("a\r.b\n", {2}), "a\r.b\r\n.\r\n");
    EXPECT_EQ(encode_chunks("a\n\r.b\n", {3}), "a\r\n\r.b\r\n.\r\n");
    EXPECT_EQ(encode_chunks("a\r\n.b\n", {2}), "a\r\n..b\r\n.\r\n");
    EXPECT_EQ(encode_chunks("a\r\r\n", {2, 3}), "a\r\r\n.\r\n");
}

// Random messages over the bytes that matter, cut at random places, for
// RETR and TOP: the encoder must always agree with the reference.
TEST(EncoderFastPath, RandomMessagesAgreeWithTheReference)
{
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const std::string alphabet = ".\r\n\na\0\xff "s;
    for (int round = 0; round < 3000; ++round) {
        std::string raw(next() % 120, ' ');
        for (char &ch : raw)
            ch = alphabet[next() % alphabet.size()];
        std::vector<std::size_t> cuts;
        for (std::size_t c = 0; c < raw.size(); c += 1 + next() % 9)
            if (c > 0)
                cuts.push_back(c);
        std::optional<uint32_t> top;
        if (round % 3 != 0)
            top = static_cast<uint32_t>(next() % 4);
        ASSERT_EQ(encode_chunks(raw, cuts, top), reference(raw, top))
            << "round " << round << " top " << top.value_or(999);
        ASSERT_EQ(encode(raw, top), reference(raw, top)) << "round " << round;
    }
}

TEST(MessageSize, ExactCrlfOctets)
{
    EXPECT_EQ(pop3_size(""), 0u);
    EXPECT_EQ(pop3_size("\n"), 2u);
    EXPECT_EQ(pop3_size("\r\n"), 2u);
    EXPECT_EQ(pop3_size("abc"), 3u) << "the CRLF added before the terminator is not counted";
    EXPECT_EQ(pop3_size("a\nb\n"), 6u);
    EXPECT_EQ(pop3_size("a\r\nb\r\n"), 6u);
    EXPECT_EQ(pop3_size("a\rb"), 3u);
    EXPECT_EQ(pop3_size(".\n"), 3u) << "no dot-stuffing in sizes";
}

TEST(MessageSize, EncoderOutputMinusStuffingEqualsSize)
{
    const std::vector<std::string> messages = {
        "",
        "\n",
        "x",
        ".",
        "..\n.\n",
        "a\r\nb\nc",
        "a\r",
        "a\r\r\n",
        "\r\n\r\n",
        tricky,
        "H: v\n\n.body\n.\n",
        std::string(1000, '.'),
    };
    for (const std::string &m : messages) {
        MessageEncoder enc;
        std::string out;
        enc.encode(m, out);
        enc.finish(out);
        std::size_t added = (!m.empty() && m.back() != '\n') ? 2 : 0; // finish()'s CRLF
        EXPECT_EQ(out.size() - enc.stuffed_dots() - 3 - added, pop3_size(m))
            << testing::PrintToString(m);
    }
}

TEST(MessageSize, ChunkedSizerAgrees)
{
    for (std::size_t i = 0; i <= tricky.size(); ++i) {
        MessageSizer s;
        s.add(std::string_view(tricky).substr(0, i));
        s.add(std::string_view(tricky).substr(i));
        EXPECT_EQ(s.size(), pop3_size(tricky)) << "cut at " << i;
    }
}

} // namespace
} // namespace modpop3d::pop3
