// reply_test.cpp - reply lines: format, response codes, 512-octet bound,
// no CR/LF/NUL injection, outcome mapping from modapi status codes.
#include "pop3/outcome.hpp"
#include "pop3/reply.hpp"

#include <gtest/gtest.h>
#include <modpop3d/status.h>
#include <string>

namespace modpop3d::pop3
{
namespace
{

using namespace std::string_literals;

TEST(Reply, Ok)
{
    std::string out;
    reply::ok(out, "");
    reply::ok(out, "2 320");
    EXPECT_EQ(out, "+OK\r\n+OK 2 320\r\n");
}

TEST(Reply, ErrWithAndWithoutCode)
{
    std::string out;
    reply::err(out, "SYS/TEMP", "try later");
    reply::err(out, "", "No such message");
    reply::err(out, "IN-USE", "");
    EXPECT_EQ(out, "-ERR [SYS/TEMP] try later\r\n-ERR No such message\r\n-ERR [IN-USE]\r\n");
}

TEST(Reply, FreeTextNeverLooksLikeACode)
{
    std::string out;
    reply::err(out, "", "[AUTH] spoofed");
    EXPECT_EQ(out, "-ERR (AUTH] spoofed\r\n");
}

TEST(Reply, LinesAreCutTo512Octets)
{
    const std::string long_text(2000, 'x');
    for (int kind = 0; kind < 4; ++kind) {
        std::string out;
        if (kind == 0)
            reply::ok(out, long_text);
        else if (kind == 1)
            reply::err(out, "SYS/PERM", long_text);
        else if (kind == 2)
            reply::err(out, "", long_text);
        else
            reply::line(out, "." + long_text);
        EXPECT_EQ(out.size(), reply::max_line) << kind;
        EXPECT_EQ(out.substr(out.size() - 2), "\r\n") << kind;
        EXPECT_EQ(out.find('\r'), out.size() - 2) << kind;
    }
}

TEST(Reply, ExactlyFittingTextIsKept)
{
    std::string out;
    reply::ok(out, std::string(506, 'a')); // "+OK " + 506 + CRLF = 512
    EXPECT_EQ(out.size(), 512u);
    EXPECT_EQ(out, "+OK " + std::string(506, 'a') + "\r\n");
}

TEST(Reply, ControlBytesCannotInjectALine)
{
    std::string out;
    reply::ok(out, "a\r\n+OK b\0c"s);
    EXPECT_EQ(out, "+OK a  +OK b c\r\n");
}

TEST(Reply, MultiLineBodyIsDotStuffed)
{
    std::string out;
    reply::line(out, ".hidden");
    reply::line(out, "plain");
    reply::end(out);
    EXPECT_EQ(out, "..hidden\r\nplain\r\n.\r\n");
}

TEST(Reply, Continuation)
{
    std::string out;
    reply::continuation(out, "");
    reply::continuation(out, "VXNlcm5hbWU6");
    EXPECT_EQ(out, "+ \r\n+ VXNlcm5hbWU6\r\n");
}

TEST(Outcome, FromModapiStatus)
{
    using C = StatusContext;
    EXPECT_EQ(outcome_from_status(MODPOP3D_OK, C::login), Outcome::ok);
    EXPECT_EQ(outcome_from_status(MODPOP3D_STOP, C::message), Outcome::ok);
    EXPECT_EQ(outcome_from_status(12345, C::login), Outcome::ok);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_NOUSER, C::login), Outcome::auth_failed);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_BADPASS, C::login), Outcome::auth_failed);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_PERM, C::login), Outcome::auth_failed);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_PERM, C::maildrop), Outcome::perm_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_TEMP, C::login), Outcome::temp_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_NOMEM, C::maildrop), Outcome::temp_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_IO, C::message), Outcome::temp_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_NOSPACE, C::commit), Outcome::temp_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_LOCKED, C::maildrop), Outcome::in_use);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_GONE, C::message), Outcome::gone);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_CORRUPT, C::maildrop), Outcome::perm_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_INTERNAL, C::login), Outcome::perm_failure);
    EXPECT_EQ(outcome_from_status(MODPOP3D_E_NOENT, C::maildrop), Outcome::perm_failure);
    EXPECT_EQ(outcome_from_status(-9999, C::commit), Outcome::perm_failure);
}

TEST(Outcome, ResponseCodes)
{
    EXPECT_EQ(response_code(Outcome::auth_failed), "AUTH");
    EXPECT_EQ(response_code(Outcome::temp_failure), "SYS/TEMP");
    EXPECT_EQ(response_code(Outcome::perm_failure), "SYS/PERM");
    EXPECT_EQ(response_code(Outcome::in_use), "IN-USE");
    EXPECT_EQ(response_code(Outcome::login_delay), "LOGIN-DELAY");
    EXPECT_EQ(response_code(Outcome::ok), "");
    EXPECT_EQ(response_code(Outcome::gone), "");
}

} // namespace
} // namespace modpop3d::pop3
