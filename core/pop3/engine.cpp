// engine.cpp - the POP3 state machine: line framing, command dispatch,
// action sequencing. See engine.hpp for the contract.
#include "pop3/engine.hpp"

#include "pop3/reply.hpp"
#include "util/ascii.hpp"
#include "util/base64.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <string.h> // explicit_bzero
#include <utility>

namespace modpop3d::pop3
{

namespace
{

// The one text for every credential failure: unknown user, wrong password,
// refused account, malformed name. Clients cannot tell them apart.
constexpr std::string_view auth_failed_text = "Authentication failed";
constexpr std::string_view tls_required_text = "Plaintext authentication requires TLS";
constexpr std::string_view logged_in_text = "Already logged in";
constexpr std::string_view not_logged_in_text = "Not logged in";

// The RFC 2449 timestamp must fit a 512-octet greeting with room to spare.
constexpr std::size_t max_timestamp = 200;

void wipe(std::string &s) noexcept
{
    if (!s.empty())
        explicit_bzero(s.data(), s.size());
    s.clear();
}

// valid_name - a login name the engine passes on: non-empty, no control
// characters (they have no place in a name and poison logs).
bool valid_name(std::string_view name) noexcept
{
    if (name.empty())
        return false;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return false;
    }
    return true;
}

bool valid_uidl(std::string_view uidl) noexcept
{
    if (uidl.empty() || uidl.size() > 70)
        return false;
    // No early exit, so the compiler vectorises it: this runs for every
    // message at every login.
    unsigned bad = 0;
    for (char c : uidl)
        bad |= unsigned(static_cast<unsigned char>(c - 0x21) > 0x7e - 0x21);
    return bad == 0;
}

// valid_timestamp - "<...>" of printable characters (RFC 1939 msg-id form).
bool valid_timestamp(std::string_view ts) noexcept
{
    if (ts.size() < 3 || ts.size() > max_timestamp || ts.front() != '<' || ts.back() != '>')
        return false;
    for (char c : ts)
        if (c < 0x21 || c > 0x7e)
            return false;
    return true;
}

// lower_hex_digest - the 32 hex digits of an APOP digest in lower case.
std::optional<std::string> lower_hex_digest(std::string_view d)
{
    if (d.size() != 32)
        return std::nullopt;
    std::string out(d);
    for (char &c : out) {
        if (c >= 'A' && c <= 'F')
            c = static_cast<char>(c - 'A' + 'a');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return std::nullopt;
    }
    return out;
}

} // namespace

Engine::Engine(EngineConfig config, ConnectionFacts facts)
    : Engine(std::move(config), std::move(facts), NoGreeting{})
{
    send_greeting();
}

Engine Engine::resume(EngineConfig config, ConnectionFacts facts, std::string user,
                      LoginMethod method, std::string_view pending_input)
{
    Engine e(std::move(config), std::move(facts), NoGreeting{});
    e.resumed_ = true;
    e.login_method_ = method;
    e.login_user_ = user;
    e.user_ = std::move(user);
    e.await_ = Await::maildrop;
    e.actions_.emplace_back(OpenMaildrop{e.user_, method});
    // Blocked on the maildrop: nothing is consumed until it is answered.
    e.in_.assign(pending_input);
    return e;
}

Engine::Engine(EngineConfig config, ConnectionFacts facts, NoGreeting)
    : config_(std::move(config)), facts_(std::move(facts))
{
    config_.max_line = std::max<std::size_t>(config_.max_line, 8);
    config_.max_sasl_line = std::max(config_.max_sasl_line, config_.max_line);
    config_.input_buffer = std::max(config_.input_buffer, config_.max_sasl_line);
    for (std::string &m : facts_.sasl_mechanisms)
        m = util::ascii_upper(m);
    if (facts_.apop_available && valid_timestamp(facts_.apop_timestamp))
        apop_timestamp_ = facts_.apop_timestamp;
    else
        facts_.apop_available = false;
}

void Engine::send_greeting()
{
    std::string_view greeting = config_.greeting;
    // "+OK " + greeting + " " + timestamp + CRLF within 512 octets.
    const std::size_t room =
        reply::max_line - 6 - (apop_timestamp_.empty() ? 0 : apop_timestamp_.size() + 1);
    if (greeting.size() > room)
        greeting = greeting.substr(0, room);
    std::string text(greeting);
    if (!apop_timestamp_.empty())
        text += (text.empty() ? "" : " ") + apop_timestamp_;
    reply::ok(out_, text);
}

// ---------------------------------------------------------------- input

bool Engine::blocked() const noexcept
{
    return await_ != Await::nothing && await_ != Await::sasl_client;
}

bool Engine::wants_input() const noexcept
{
    return state_ != State::closed && !eof_ && !lost_ && await_ != Await::tls &&
           in_.size() - in_pos_ < config_.input_buffer;
}

void Engine::feed(std::string_view bytes)
{
    // During STLS every byte is plaintext sent before the handshake: drop it.
    if (state_ == State::closed || lost_ || eof_ || await_ == Await::tls)
        return;
    in_.append(bytes);
    process();
}

void Engine::peer_closed()
{
    if (state_ == State::closed || eof_)
        return;
    eof_ = true;
    process();
}

void Engine::connection_lost()
{
    if (state_ == State::closed || lost_)
        return;
    lost_ = true;
    discard_input();
    if (await_ == Await::commit)
        return; // let the commit finish; no reply will be read anyway
    await_ = Await::nothing;
    drop();
}

void Engine::idle_timeout()
{
    if (state_ == State::closed || await_ == Await::commit)
        return;
    // In the middle of a message body a reply line would corrupt it.
    if (await_ != Await::retrieve_body)
        reply::err(out_, "", "Disconnected for inactivity");
    close(CloseReason::timeout);
}

void Engine::process()
{
    bool all_read = false; // every complete line was answered
    while (state_ != State::closed && !blocked() && !output_full()) {
        std::string_view line;
        const LineStatus st = next_line(line);
        if (st == LineStatus::need_more) {
            all_read = true;
            break;
        }
        if (st == LineStatus::discarded)
            continue;
        if (await_ == Await::sasl_client)
            handle_sasl_response(line);
        else
            handle_command(line);
    }
    compact_input();
    // After EOF, once everything answerable has been answered, it is a drop.
    if (eof_ && state_ != State::closed && !blocked() && all_read)
        drop();
}

std::size_t Engine::line_limit() const noexcept
{
    if (await_ == Await::sasl_client)
        return config_.max_sasl_line;
    // RFC 5034 initial responses can be long (real clients send big tokens).
    if (state_ == State::authorization && in_.size() - in_pos_ >= 5 &&
        util::iequals(std::string_view(in_).substr(in_pos_, 5), "AUTH "))
        return config_.max_sasl_line;
    return config_.max_line;
}

Engine::LineStatus Engine::next_line(std::string_view &line)
{
    if (skipping_) {
        const std::size_t lf = in_.find('\n', in_pos_);
        if (lf == std::string::npos) {
            in_pos_ = in_.size();
            return LineStatus::need_more;
        }
        in_pos_ = lf + 1;
        skipping_ = false;
    }
    const std::size_t avail = in_.size() - in_pos_;
    const std::size_t limit = line_limit();
    const char *start = in_.data() + in_pos_;
    const void *lf = std::memchr(start, '\n', std::min(avail, limit));
    if (lf) {
        const auto len = static_cast<std::size_t>(static_cast<const char *>(lf) - start);
        line = std::string_view(start, len);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        in_pos_ += len + 1;
        return LineStatus::line;
    }
    if (avail < limit)
        return LineStatus::need_more;
    in_pos_ += limit;
    skipping_ = true;
    overlong_line();
    return LineStatus::discarded;
}

void Engine::overlong_line()
{
    ++stats_.long_lines;
    if (await_ == Await::sasl_client) { // the -ERR below also ends the exchange
        if (sasl_ == SaslKind::other)
            actions_.emplace_back(SaslAbort{sasl_mech_});
        sasl_ = SaslKind::none;
        wipe(sasl_login_user_);
        await_ = Await::nothing;
    }
    reply::err(out_, "", "Line too long");
    if (config_.max_long_lines && stats_.long_lines >= config_.max_long_lines)
        close(CloseReason::long_lines);
}

void Engine::compact_input()
{
    if (in_pos_ == 0)
        return;
    // Consumed lines may have held passwords.
    explicit_bzero(in_.data(), in_pos_);
    in_.erase(0, in_pos_);
    in_pos_ = 0;
}

void Engine::discard_input()
{
    if (!in_.empty())
        explicit_bzero(in_.data(), in_.size());
    in_.clear();
    in_pos_ = 0;
    skipping_ = false;
}

// ---------------------------------------------------------------- output and actions

std::optional<std::string> Engine::take_pending_input()
{
    if (state_ != State::authorization || await_ != Await::auth)
        return std::nullopt;
    // While blocked nothing past the authenticated line has been looked at,
    // so no overlong line is half skipped.
    std::string rest = in_.substr(in_pos_);
    discard_input();
    return rest;
}

std::string Engine::take_output()
{
    return std::exchange(out_, std::string());
}

bool Engine::set_output_backlog(std::size_t bytes)
{
    backlog_ = bytes;
    // The host may also have taken output since: whatever was held goes on.
    if (output_full() || blocked() || state_ == State::closed || (in_pos_ == in_.size() && !eof_))
        return false;
    const std::size_t out_before = out_.size(), actions_before = actions_.size();
    process();
    return out_.size() != out_before || actions_.size() != actions_before ||
           state_ == State::closed;
}

std::optional<Action> Engine::next_action()
{
    if (actions_.empty())
        return std::nullopt;
    Action a = std::move(actions_.front());
    actions_.pop_front();
    return a;
}

// ---------------------------------------------------------------- commands

void Engine::bad_command(std::string_view text)
{
    ++stats_.bad_commands;
    reply::err(out_, "", text);
    if (config_.max_bad_commands && stats_.bad_commands >= config_.max_bad_commands)
        close(CloseReason::bad_commands);
}

void Engine::handle_command(std::string_view line)
{
    const ParseResult r = parse_command(line);
    switch (r.error) {
    case ParseError::none:
        break;
    case ParseError::empty:
        bad_command("Empty command");
        return;
    case ParseError::nul_byte:
        bad_command("NUL byte in command");
        return;
    case ParseError::unknown:
        bad_command("Unknown command");
        return;
    case ParseError::syntax:
        bad_command("Syntax error");
        return;
    }
    if (state_ == State::authorization)
        handle_authorization(r.command);
    else
        handle_transaction(r.command);
}

void Engine::handle_authorization(const Command &cmd)
{
    switch (cmd.verb) {
    case Verb::user:
        return cmd_user(cmd);
    case Verb::pass:
        return cmd_pass(cmd);
    case Verb::apop:
        return cmd_apop(cmd);
    case Verb::auth:
        return cmd_auth(cmd);
    case Verb::stls:
        return cmd_stls();
    case Verb::capa:
        return cmd_capa();
    case Verb::quit:
        reply::ok(out_, "Logging out");
        return close(CloseReason::quit);
    default:
        return bad_command(not_logged_in_text);
    }
}

void Engine::handle_transaction(const Command &cmd)
{
    switch (cmd.verb) {
    case Verb::stat:
        return cmd_stat();
    case Verb::list:
        return cmd_list(cmd, false);
    case Verb::uidl:
        return cmd_list(cmd, true);
    case Verb::retr:
        return cmd_retr(cmd, false);
    case Verb::top:
        return cmd_retr(cmd, true);
    case Verb::dele:
        return cmd_dele(cmd);
    case Verb::noop:
        return reply::ok(out_, "");
    case Verb::rset:
        return cmd_rset();
    case Verb::quit:
        return cmd_quit();
    case Verb::capa:
        return cmd_capa();
    default: // USER PASS APOP AUTH STLS
        return bad_command(logged_in_text);
    }
}

void Engine::cmd_capa()
{
    reply::ok(out_, "Capability list follows");
    for (const std::string &l :
         capability_lines(config_.capabilities, facts_, state_ != State::authorization, user_caps_))
        reply::line(out_, l);
    reply::end(out_);
}

void Engine::cmd_user(const Command &cmd)
{
    if (!facts_.plaintext_allowed)
        return reply::err(out_, "AUTH", tls_required_text);
    // Accept any name here: a bad one fails at PASS like a wrong password.
    pending_user_.assign(cmd.args[0]);
    have_user_ = true;
    reply::ok(out_, "Send your password");
}

void Engine::cmd_pass(const Command &cmd)
{
    if (!facts_.plaintext_allowed)
        return reply::err(out_, "AUTH", tls_required_text);
    if (!have_user_)
        return bad_command("Send USER first");
    have_user_ = false;
    std::string user = std::exchange(pending_user_, std::string());
    verify_plain(LoginMethod::user_pass, std::move(user), std::string(cmd.args[0]));
}

void Engine::verify_plain(LoginMethod method, std::string user, std::string password)
{
    login_method_ = method;
    if (!valid_name(user)) {
        wipe(password);
        return login_failed(Outcome::auth_failed, false);
    }
    login_user_ = user;
    await_ = Await::auth;
    actions_.emplace_back(VerifyPlain{method, std::move(user), std::move(password)});
}

void Engine::cmd_apop(const Command &cmd)
{
    have_user_ = false;
    pending_user_.clear();
    if (!facts_.apop_available)
        return reply::err(out_, "", "APOP is not available");
    if (!facts_.plaintext_allowed)
        return reply::err(out_, "AUTH", tls_required_text);
    std::optional<std::string> digest = lower_hex_digest(cmd.args[1]);
    if (!digest)
        return bad_command("Syntax error");
    login_method_ = LoginMethod::apop;
    if (!valid_name(cmd.args[0]))
        return login_failed(Outcome::auth_failed, false);
    login_user_.assign(cmd.args[0]);
    await_ = Await::auth;
    actions_.emplace_back(VerifyApop{login_user_, std::move(*digest), apop_timestamp_});
}

void Engine::cmd_auth(const Command &cmd)
{
    have_user_ = false;
    pending_user_.clear();
    const std::vector<std::string> usable = usable_mechanisms(facts_);
    if (cmd.args.empty()) { // RFC 1734 style listing, still used by Outlook
        reply::ok(out_, "Supported mechanisms follow");
        for (const std::string &m : usable)
            reply::line(out_, m);
        return reply::end(out_);
    }
    const std::string mech = util::ascii_upper(std::string(cmd.args[0]));
    if (std::find(usable.begin(), usable.end(), mech) == usable.end()) {
        const auto &all = facts_.sasl_mechanisms;
        if (std::find(all.begin(), all.end(), mech) != all.end())
            return reply::err(out_, "AUTH", tls_required_text);
        return reply::err(out_, "", "Unsupported authentication mechanism");
    }
    std::optional<std::string> initial;
    if (cmd.args.size() == 2) {
        if (cmd.args[1] == "=")
            initial.emplace();
        else if (!(initial = base64::decode(cmd.args[1])))
            return reply::err(out_, "", "Invalid base64 data");
    }
    sasl_mech_ = mech;
    sasl_step_ = 0;
    if (mech == "PLAIN") {
        sasl_ = SaslKind::plain;
        login_method_ = LoginMethod::sasl_plain;
        if (initial)
            return sasl_plain(*initial);
        await_ = Await::sasl_client;
        return reply::continuation(out_, "");
    }
    if (mech == "LOGIN") {
        sasl_ = SaslKind::login;
        login_method_ = LoginMethod::sasl_login;
        await_ = Await::sasl_client;
        if (initial) { // draft-murchison-sasl-login: the initial response is the name
            sasl_login_user_ = std::move(*initial);
            sasl_step_ = 1;
            return reply::continuation(out_, base64::encode("Password:"));
        }
        return reply::continuation(out_, base64::encode("Username:"));
    }
    sasl_ = SaslKind::other;
    login_method_ = LoginMethod::sasl_other;
    await_ = Await::auth;
    SaslStep step{mech, {}, true, initial.has_value()};
    if (initial)
        step.response = std::move(*initial);
    actions_.emplace_back(std::move(step));
}

void Engine::handle_sasl_response(std::string_view line)
{
    if (line == "*")
        return sasl_cancel("Authentication cancelled");
    std::optional<std::string> data = base64::decode(line);
    if (!data)
        return sasl_cancel("Invalid base64 data");
    switch (sasl_) {
    case SaslKind::plain:
        return sasl_plain(*data);
    case SaslKind::login:
        if (sasl_step_ == 0) {
            sasl_login_user_ = std::move(*data);
            sasl_step_ = 1;
            return reply::continuation(out_, base64::encode("Password:"));
        }
        sasl_ = SaslKind::none;
        return verify_plain(LoginMethod::sasl_login, std::exchange(sasl_login_user_, {}),
                            std::move(*data));
    case SaslKind::other:
        await_ = Await::auth;
        actions_.emplace_back(SaslStep{sasl_mech_, std::move(*data), false, true});
        return;
    case SaslKind::none:
        break;
    }
    sasl_cancel("Authentication cancelled"); // not reached
}

void Engine::sasl_cancel(std::string_view reason)
{
    if (sasl_ == SaslKind::other)
        actions_.emplace_back(SaslAbort{sasl_mech_});
    sasl_ = SaslKind::none;
    wipe(sasl_login_user_);
    await_ = Await::nothing;
    reply::err(out_, "", reason);
}

// sasl_plain - RFC 4616: [authzid] NUL authcid NUL passwd.
void Engine::sasl_plain(std::string &message)
{
    sasl_ = SaslKind::none;
    await_ = Await::nothing;
    const std::size_t nul1 = message.find('\0');
    const std::size_t nul2 = nul1 == std::string::npos ? nul1 : message.find('\0', nul1 + 1);
    if (nul2 == std::string::npos || message.find('\0', nul2 + 1) != std::string::npos) {
        wipe(message);
        return reply::err(out_, "", "Invalid PLAIN response");
    }
    std::string authzid = message.substr(0, nul1);
    std::string authcid = message.substr(nul1 + 1, nul2 - nul1 - 1);
    std::string password = message.substr(nul2 + 1);
    wipe(message);
    if (!authzid.empty() && authzid != authcid) { // no proxy logins
        wipe(password);
        login_method_ = LoginMethod::sasl_plain;
        return login_failed(Outcome::auth_failed, false);
    }
    verify_plain(LoginMethod::sasl_plain, std::move(authcid), std::move(password));
}

void Engine::cmd_stls()
{
    if (facts_.tls_active)
        return reply::err(out_, "", "TLS is already active");
    if (!facts_.stls_available)
        return reply::err(out_, "", "STLS is not available");
    reply::ok(out_, "Begin TLS negotiation");
    // CVE-2011-0411: nothing sent in plaintext may survive into the TLS
    // session. A client that pipelines after STLS is not one RFC 2595 knows:
    // the host is told, so that it can drop the connection.
    plaintext_after_stls_ = in_pos_ < in_.size();
    discard_input();
    have_user_ = false;
    pending_user_.clear();
    await_ = Await::tls;
    actions_.emplace_back(StartTls{});
}

void Engine::login_failed(Outcome outcome, bool maildrop)
{
    await_ = Await::nothing;
    switch (outcome) {
    case Outcome::ok: // not a failure; treated as a bug in the caller
    case Outcome::perm_failure:
    case Outcome::gone:
        reply::err(out_, "SYS/PERM",
                   maildrop ? "Unable to open the maildrop" : "Authentication is not possible");
        break;
    case Outcome::auth_failed:
        ++stats_.failed_logins;
        reply::err(out_, "AUTH", auth_failed_text);
        if (config_.max_auth_failures && stats_.failed_logins >= config_.max_auth_failures)
            close(CloseReason::auth_failures);
        break;
    case Outcome::temp_failure:
        reply::err(out_, "SYS/TEMP",
                   maildrop ? "Unable to open the maildrop, try again later"
                            : "Authentication is temporarily unavailable, try again later");
        break;
    case Outcome::in_use:
        reply::err(out_, "IN-USE", "The maildrop is locked by another session");
        break;
    case Outcome::login_delay:
        reply::err(out_, "LOGIN-DELAY", "Too soon since the last login");
        break;
    }
}

// ---------------------------------------------------------------- transaction

std::optional<uint32_t> Engine::message_number(std::string_view arg)
{
    const std::optional<uint32_t> n = parse_number(arg);
    if (!n) {
        bad_command("Invalid message number");
        return std::nullopt;
    }
    if (*n == 0 || *n > messages_.size()) {
        reply::err(out_, "", "No such message");
        return std::nullopt;
    }
    if (deleted_[*n - 1]) {
        reply::err(out_, "", "Message is deleted");
        return std::nullopt;
    }
    return n;
}

std::string Engine::maildrop_summary() const
{
    uint32_t count = 0;
    uint64_t octets = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i)
        if (!deleted_[i]) {
            ++count;
            octets += messages_[i].size;
        }
    return std::to_string(count) + (count == 1 ? " message (" : " messages (") +
           std::to_string(octets) + " octets)";
}

void Engine::cmd_stat()
{
    uint32_t count = 0;
    uint64_t octets = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i)
        if (!deleted_[i]) {
            ++count;
            octets += messages_[i].size;
        }
    reply::ok(out_, std::to_string(count) + ' ' + std::to_string(octets));
}

void Engine::cmd_list(const Command &cmd, bool uidl)
{
    auto value = [&](std::size_t i) {
        return uidl ? messages_[i].uidl : std::to_string(messages_[i].size);
    };
    if (!cmd.args.empty()) {
        const std::optional<uint32_t> n = message_number(cmd.args[0]);
        if (n)
            reply::ok(out_, std::to_string(*n) + ' ' + value(*n - 1));
        return;
    }
    reply::ok(out_, uidl ? std::string_view("Unique-ID listing follows") : maildrop_summary());
    // Every line is "<number> <UIDL or size>": it starts with a digit (never
    // dot-stuffed), and maildrop_opened() checked every UIDL (1-70 octets in
    // 0x21-0x7E), so no line needs reply::line's cleaning or cutting. Written
    // straight into out_, sized once: at 50,000 messages the per-line strings
    // were most of the cost of the listing.
    std::size_t need = 3;
    for (std::size_t i = 0; i < messages_.size(); ++i)
        need += 10 + 1 + (uidl ? messages_[i].uidl.size() : 20) + 2; // < 2^32 messages
    out_.reserve(out_.size() + need);
    char num[std::numeric_limits<uint64_t>::digits10 + 2];
    auto append_number = [&](uint64_t v) {
        const auto r = std::to_chars(num, num + sizeof num, v);
        out_.append(num, r.ptr);
    };
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (deleted_[i])
            continue;
        append_number(i + 1);
        out_.push_back(' ');
        if (uidl)
            out_.append(messages_[i].uidl);
        else
            append_number(messages_[i].size);
        out_.append("\r\n", 2);
    }
    reply::end(out_);
}

void Engine::cmd_retr(const Command &cmd, bool top)
{
    std::optional<uint32_t> lines;
    if (top) {
        // Check the line count first so a bad one never starts a retrieval.
        lines = parse_number(cmd.args[1]);
        if (!lines)
            return bad_command("Invalid line count");
    }
    const std::optional<uint32_t> n = message_number(cmd.args[0]);
    if (!n)
        return;
    retrieving_ = Retrieve{*n, *n - 1, messages_[*n - 1].size, lines};
    await_ = Await::retrieve_start;
    actions_.emplace_back(retrieving_);
}

void Engine::cmd_dele(const Command &cmd)
{
    const std::optional<uint32_t> n = message_number(cmd.args[0]);
    if (!n)
        return;
    deleted_[*n - 1] = 1;
    reply::ok(out_, "Message deleted");
}

void Engine::cmd_rset()
{
    std::fill(deleted_.begin(), deleted_.end(), 0);
    reply::ok(out_, maildrop_summary());
}

void Engine::cmd_quit()
{
    state_ = State::update;
    await_ = Await::commit;
    early_commit_ = false;
    actions_.emplace_back(Commit{deleted_, retrieved_, false});
}

// ---------------------------------------------------------------- answers

bool Engine::auth_result(Outcome outcome, std::string_view user)
{
    if (await_ != Await::auth || state_ != State::authorization)
        return false;
    sasl_ = SaslKind::none;
    if (outcome == Outcome::ok) {
        user_ = user.empty() ? login_user_ : std::string(user);
        await_ = Await::maildrop;
        actions_.emplace_back(OpenMaildrop{user_, login_method_.value_or(LoginMethod::user_pass)});
        return true;
    }
    login_failed(outcome, false);
    process();
    return true;
}

bool Engine::sasl_challenge(std::string_view challenge)
{
    if (await_ != Await::auth || sasl_ != SaslKind::other)
        return false;
    reply::continuation(out_, base64::encode(challenge));
    await_ = Await::sasl_client;
    process();
    return true;
}

bool Engine::maildrop_opened(std::vector<MessageInfo> messages, UserCapabilities user)
{
    if (await_ != Await::maildrop)
        return false;
    const bool valid = messages.size() < UINT32_MAX &&
                       std::all_of(messages.begin(), messages.end(),
                                   [](const MessageInfo &m) { return valid_uidl(m.uidl); });
    if (!valid) {
        user_.clear();
        login_failed(Outcome::perm_failure, true);
        if (resumed_)
            close(CloseReason::maildrop_failed);
        process();
        return false;
    }
    messages_ = std::move(messages);
    deleted_.assign(messages_.size(), 0);
    retrieved_.assign(messages_.size(), 0);
    user_caps_ = user;
    stats_.maildrop_messages = static_cast<uint32_t>(messages_.size());
    for (const MessageInfo &m : messages_)
        stats_.maildrop_octets += m.size;
    state_ = State::transaction;
    await_ = Await::nothing;
    reply::ok(out_, "Logged in, " + maildrop_summary());
    process();
    return true;
}

bool Engine::maildrop_failed(Outcome outcome)
{
    if (await_ != Await::maildrop)
        return false;
    user_.clear();
    login_failed(outcome, true);
    if (resumed_) // this process exists for one user: no second login
        close(CloseReason::maildrop_failed);
    process();
    return true;
}

bool Engine::retrieve_started()
{
    if (await_ != Await::retrieve_start)
        return false;
    if (retrieving_.top_lines)
        reply::ok(out_, "Top of message follows");
    else
        reply::ok(out_, std::to_string(retrieving_.size) + " octets");
    await_ = Await::retrieve_body;
    return true;
}

bool Engine::retrieve_finished(Outcome outcome)
{
    if (await_ == Await::retrieve_start) {
        if (outcome == Outcome::ok) {
            close(CloseReason::protocol_misuse);
            return false;
        }
        await_ = Await::nothing;
        if (outcome == Outcome::gone)
            reply::err(out_, "", "Message is no longer available");
        else if (outcome == Outcome::temp_failure)
            reply::err(out_, "SYS/TEMP", "Unable to read the message, try again later");
        else
            reply::err(out_, "SYS/PERM", "Unable to read the message");
        process();
        return true;
    }
    if (await_ != Await::retrieve_body)
        return false;
    if (outcome != Outcome::ok) {
        close(CloseReason::retrieve_failed);
        return true;
    }
    if (retrieving_.top_lines) {
        ++stats_.top_messages;
    } else {
        retrieved_[retrieving_.index] = 1;
        ++stats_.retrieved_messages;
        stats_.retrieved_octets += retrieving_.size;
    }
    await_ = Await::nothing;
    process();
    return true;
}

bool Engine::tls_started(ConnectionFacts facts)
{
    if (await_ != Await::tls)
        return false;
    facts_ = std::move(facts);
    facts_.tls_active = true;
    for (std::string &m : facts_.sasl_mechanisms)
        m = util::ascii_upper(m);
    // APOP stays bound to the timestamp of the (plaintext) greeting.
    facts_.apop_available = facts_.apop_available && !apop_timestamp_.empty();
    facts_.apop_timestamp = apop_timestamp_;
    discard_input();
    have_user_ = false;
    pending_user_.clear();
    await_ = Await::nothing;
    process();
    return true;
}

bool Engine::tls_failed()
{
    if (await_ != Await::tls)
        return false;
    close(CloseReason::tls_failed);
    return true;
}

bool Engine::commit_finished(Outcome outcome)
{
    if (await_ != Await::commit)
        return false;
    const bool reply_wanted = !early_commit_ && !lost_;
    if (outcome == Outcome::ok) {
        for (std::size_t i = 0; i < messages_.size(); ++i)
            if (deleted_[i]) {
                ++stats_.deleted_messages;
                stats_.deleted_octets += messages_[i].size;
            }
        if (reply_wanted) {
            const uint32_t left = stats_.maildrop_messages - stats_.deleted_messages;
            reply::ok(out_, left == 0 ? std::string("Logging out (maildrop empty)")
                                      : "Logging out (" + std::to_string(left) +
                                            (left == 1 ? " message left)" : " messages left)"));
        }
    } else if (reply_wanted) {
        reply::err(out_, "SYS/TEMP", "Some deleted messages were not removed");
    }
    close(early_commit_ || lost_ ? CloseReason::peer_closed : CloseReason::quit);
    return true;
}

// ---------------------------------------------------------------- endings

void Engine::drop()
{
    if (state_ == State::closed)
        return;
    if (state_ == State::transaction && config_.commit_on_early_close) {
        state_ = State::update;
        await_ = Await::commit;
        early_commit_ = true;
        discard_input();
        actions_.emplace_back(Commit{deleted_, retrieved_, true});
        return;
    }
    close(CloseReason::peer_closed);
}

void Engine::close(CloseReason reason)
{
    if (state_ == State::closed)
        return;
    state_ = State::closed;
    await_ = Await::nothing;
    if (sasl_ == SaslKind::other) // the host may hold state for the exchange
        actions_.emplace_back(SaslAbort{sasl_mech_});
    sasl_ = SaslKind::none;
    wipe(sasl_login_user_);
    discard_input();
    actions_.emplace_back(Close{reason});
}

} // namespace modpop3d::pop3
