// fake_host.hpp - a scripted host for engine tests: it feeds the engine,
// collects everything written to the "wire" and, in automatic mode, answers
// every action from a small in-memory user table and maildrop.
#pragma once

#include "pop3/encoder.hpp"
#include "pop3/engine.hpp"
#include "pop3/message_size.hpp"

#include <deque>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace modpop3d::pop3::test
{

// Facts of a connection where everything is allowed (loopback, say).
inline ConnectionFacts open_facts()
{
    ConnectionFacts f;
    f.plaintext_allowed = true;
    f.stls_available = true;
    f.sasl_mechanisms = {"PLAIN", "LOGIN", "X-TEST"};
    return f;
}

class FakeHost
{
  public:
    explicit FakeHost(EngineConfig config = {}, ConnectionFacts facts = open_facts())
        : engine(std::move(config), std::move(facts))
    {
        pump();
    }

    // A host around an engine made elsewhere (Engine::resume). With
    // `manual_mode` the actions it queued at once wait in `pending`.
    FakeHost(Engine made, bool manual_mode) : engine(std::move(made)), manual(manual_mode)
    {
        pump();
    }

    // answer_pending - switch to the automatic host and answer what waits.
    void answer_pending()
    {
        manual = false;
        for (int guard = 0; guard < 1000 && !pending.empty(); ++guard) {
            Action a = std::move(pending.front());
            pending.pop_front();
            answer(std::move(a));
            pump();
        }
    }

    // send - feed bytes, let the host react, return what the server wrote.
    std::string send(std::string_view bytes)
    {
        const std::size_t before = wire.size();
        engine.feed(bytes);
        pump();
        return wire.substr(before);
    }

    // send_bytewise - the same, one byte per feed() call.
    std::string send_bytewise(std::string_view bytes)
    {
        const std::size_t before = wire.size();
        for (char c : bytes) {
            engine.feed(std::string_view(&c, 1));
            pump();
        }
        return wire.substr(before);
    }

    // login - USER/PASS as alice; returns the reply to PASS.
    std::string login()
    {
        send("USER alice\r\n");
        return send("PASS secret\r\n");
    }

    // pump - write the engine's output to the wire and answer its actions.
    void pump()
    {
        for (int guard = 0; guard < 100000; ++guard) {
            wire += engine.take_output();
            std::optional<Action> a = engine.next_action();
            if (!a)
                return;
            actions.push_back(*a);
            if (const auto *c = std::get_if<Close>(&*a))
                closed = c->reason;
            else if (const auto *s = std::get_if<SaslAbort>(&*a))
                aborted.push_back(s->mechanism);
            else if (manual)
                pending.push_back(std::move(*a));
            else
                answer(std::move(*a));
        }
        ADD_FAILURE() << "pump did not settle";
    }

    // answer - the automatic host.
    void answer(Action a)
    {
        if (auto *v = std::get_if<VerifyPlain>(&a)) {
            auto it = passwords.find(v->user);
            const bool good = it != passwords.end() && it->second == v->password;
            engine.auth_result(good ? Outcome::ok : Outcome::auth_failed);
        } else if (auto *ap = std::get_if<VerifyApop>(&a)) {
            auto it = apop_digests.find(ap->user);
            const bool good = it != apop_digests.end() && it->second == ap->digest;
            engine.auth_result(good ? Outcome::ok : Outcome::auth_failed);
        } else if (auto *s = std::get_if<SaslStep>(&a)) {
            // X-TEST: challenge "who?", then expects "alice secret".
            if (s->first)
                engine.sasl_challenge("who?");
            else
                engine.auth_result(s->response == "alice secret" ? Outcome::ok
                                                                 : Outcome::auth_failed);
        } else if (std::get_if<OpenMaildrop>(&a)) {
            if (maildrop_outcome != Outcome::ok) {
                engine.maildrop_failed(maildrop_outcome);
                return;
            }
            std::vector<MessageInfo> list;
            for (std::size_t i = 0; i < messages.size(); ++i)
                list.push_back({pop3_size(messages[i]), "uid-" + std::to_string(i + 1)});
            engine.maildrop_opened(std::move(list));
        } else if (auto *r = std::get_if<Retrieve>(&a)) {
            engine.retrieve_started();
            wire += engine.take_output();
            MessageEncoder enc(r->top_lines);
            enc.encode(messages.at(r->index), wire);
            enc.finish(wire);
            engine.retrieve_finished(Outcome::ok);
        } else if (std::get_if<StartTls>(&a)) {
            ConnectionFacts f = engine.facts();
            f.tls_active = true;
            f.plaintext_allowed = true;
            engine.tls_started(f);
        } else if (auto *c = std::get_if<Commit>(&a)) {
            commits.push_back(*c);
            engine.commit_finished(commit_outcome);
        }
    }

    Engine engine;
    std::string wire;
    bool manual = false; // queue actions in `pending` instead of answering
    std::deque<Action> pending;
    std::vector<Action> actions; // every action seen, in order
    std::vector<Commit> commits;
    std::vector<std::string> aborted; // SaslAbort mechanisms
    std::optional<CloseReason> closed;

    std::map<std::string, std::string> passwords{{"alice", "secret"}};
    std::map<std::string, std::string> apop_digests;
    std::vector<std::string> messages;
    Outcome maildrop_outcome = Outcome::ok;
    Outcome commit_outcome = Outcome::ok;
};

// count_of - how many actions of type T the host saw.
template <typename T> std::size_t count_of(const std::vector<Action> &actions)
{
    std::size_t n = 0;
    for (const Action &a : actions)
        n += std::holds_alternative<T>(a) ? 1 : 0;
    return n;
}

} // namespace modpop3d::pop3::test
