// The remote console's line parser (runtime/dist/remsh.h): commands and
// their argument, Erlang the console refuses to evaluate, and lines too
// long to read.
#include <catch2/catch.hpp>

#include <string>

#include "runtime/dist/remsh.h"

using namespace snow::rt::dist;

TEST_CASE("console lines name their command and argument, surrounding blanks ignored") {
  ConsoleCommand c = console_parse("  info   <9123.45.6>  \n");
  CHECK(c.verb == ConsoleVerb::Info);
  CHECK(c.arg == "<9123.45.6>");
  CHECK(console_parse("processes\n").verb == ConsoleVerb::Processes);
  CHECK(console_parse("log-level debug").arg == "debug");
  CHECK(console_parse("quit\r\n").verb == ConsoleVerb::Quit);
  CHECK(console_parse("exit").verb == ConsoleVerb::Quit);
  CHECK(console_parse("?").verb == ConsoleVerb::Help);
}

TEST_CASE("console blank lines are empty and unknown words keep at most 64 bytes") {
  CHECK(console_parse("").verb == ConsoleVerb::Empty);
  CHECK(console_parse(" \t\n").verb == ConsoleVerb::Empty);
  ConsoleCommand c = console_parse(std::string(100, 'z') + " arg");
  CHECK(c.verb == ConsoleVerb::Unknown);
  CHECK(c.arg == std::string(64, 'z'));
  CHECK(console_parse("Processes").verb == ConsoleVerb::Unknown);
}

TEST_CASE("console lines that look like Erlang are recognised and never commands") {
  CHECK(console_parse("q().").verb == ConsoleVerb::ErlangCode);
  CHECK(console_parse("init:stop()").verb == ConsoleVerb::ErlangCode);
  CHECK(console_parse("processes.").verb == ConsoleVerb::ErlangCode);
  CHECK(console_parse("erlang:processes").verb == ConsoleVerb::ErlangCode);
}

TEST_CASE("console lines over the limit are refused whole") {
  CHECK(console_parse(std::string(kConsoleMaxLine, 'a')).verb == ConsoleVerb::Unknown);
  CHECK(console_parse(std::string(kConsoleMaxLine + 1, 'a')).verb == ConsoleVerb::TooLong);
}

TEST_CASE("console answers end in a newline and stay within the output bound") {
  for (ConsoleVerb v : {ConsoleVerb::Help, ConsoleVerb::Quit, ConsoleVerb::ErlangCode, ConsoleVerb::TooLong,
                        ConsoleVerb::Unknown, ConsoleVerb::LogLevel}) {
    ConsoleCommand c;
    c.verb = v;
    c.arg = v == ConsoleVerb::LogLevel ? "nonsense" : "x";
    std::string out = console_answer(c);
    CHECK(!out.empty());
    CHECK(out.back() == '\n');
    CHECK(out.size() <= kConsoleMaxOutput + 64);
  }
  CHECK(console_answer(ConsoleCommand{}).empty());
}

TEST_CASE("console info refuses text that is not a pid") {
  for (const char* arg : {"", "<0.1>", "<0.1.2.3>", "a.b.c", "<0.99999999999.1>", "<0.1.0>"}) {
    ConsoleCommand c;
    c.verb = ConsoleVerb::Info;
    c.arg = arg;
    CHECK(console_answer(c) == "info: give a pid of this node, as <0.Id.Serial>\n");
  }
}
