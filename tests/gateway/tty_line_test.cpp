// TtyListener over real loopback TCP with real TTY audio: test clients send audio made by
// `minimodem --tx tdd` (or tty::FskModulator when minimodem is not installed), decode the
// gateway's reply audio with tty::TtyReceiver, and the calls land in a real SQLite file.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"
#include "gateway/server/tty_listener.hpp"
#include "tests/gateway/test_support.hpp"
#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"
#include "tty/tty_receiver.hpp"

namespace relaygw::gateway::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr double kRate = 8000.0;

bool minimodem_installed() { return std::system("command -v minimodem >/dev/null 2>&1") == 0; }

// TTY audio of `text` at 8 kHz: from minimodem when `use_minimodem`, else from FskModulator.
std::vector<float> tty_audio(const std::string& text, bool use_minimodem,
                             const std::string& scratch_wav) {
  if (use_minimodem) {
    const std::string command = "minimodem --tx tdd -R 8000 -f '" + scratch_wav + "' 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "w");
    REQUIRE(pipe != nullptr);
    std::fputs(text.c_str(), pipe);
    REQUIRE(pclose(pipe) == 0);
    auto audio = tty::read_audio_file(scratch_wav);
    REQUIRE(audio.is_ok());
    REQUIRE(audio->sample_rate_hz == kRate);
    return audio->samples;
  }
  tty::BaudotEncoder encoder;
  tty::FskModulator modulator;
  std::vector<float> samples;
  modulator.modulate(encoder.encode(text).codes, samples);
  return samples;
}

void append_pcm16(const std::vector<float>& samples, std::vector<std::uint8_t>& out) {
  for (float sample : samples) {
    const auto value = static_cast<std::int16_t>(std::clamp(sample, -1.0f, 1.0f) * 32767.0f);
    out.push_back(static_cast<std::uint8_t>(value & 0xff));
    out.push_back(static_cast<std::uint8_t>((static_cast<std::uint16_t>(value) >> 8) & 0xff));
  }
}

// One TTY line as a test client: sends typed text as TTY audio followed by silence, and
// decodes the gateway's reply audio on a reader thread.
class TtyClient {
 public:
  TtyClient(std::uint16_t port, const std::string& number, const test::TempDir& dir)
      : socket_(io_),
        scratch_wav_(dir.file("tx-" + number.substr(1) + ".wav")),
        use_minimodem_(minimodem_installed()) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    send_raw("RELAYGW-TTY/1 line=" + number + " encoding=pcm16 rate=8000\n");
    reader_ = std::thread([this] { read_loop(); });
  }

  ~TtyClient() {
    close();
    if (reader_.joinable()) {
      reader_.join();
    }
  }

  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  void send_audio(const std::vector<float>& samples) {
    std::vector<std::uint8_t> bytes;
    append_pcm16(samples, bytes);
    asio::write(socket_, asio::buffer(bytes));
  }

  // Types `text` as one TTY transmission, then one second of line silence so the gateway
  // sees the carrier drop.
  void type(const std::string& text) {
    std::vector<float> samples = tty_audio(text, use_minimodem_, scratch_wav_);
    samples.resize(samples.size() + static_cast<std::size_t>(kRate), 0.0f);
    send_audio(samples);
  }

  // Waits until the decoded reply text, after what earlier waits consumed, contains `needle`,
  // and consumes up to its end. Returns the text consumed, or "" on timeout.
  std::string wait_for(const std::string& needle, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        const std::size_t found = text_.find(needle, consumed_);
        if (found != std::string::npos) {
          const std::size_t end = found + needle.size();
          std::string taken = text_.substr(consumed_, end - consumed_);
          consumed_ = end;
          return taken;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    std::lock_guard lock(mutex_);
    UNSCOPED_INFO("waited for \"" << needle << "\"; received after the last match: \""
                                  << text_.substr(consumed_) << "\"");
    return "";
  }

  // Every reply text received so far.
  std::string all_text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }

  bool wait_closed(std::chrono::milliseconds timeout = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (closed_) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // Reads reply audio and decodes it. A pause in the audio is fed to the receiver as line
  // silence, so the last characters of a reply are decoded without waiting for the next one.
  void read_loop() {
    tty::TtyReceiver receiver;
    std::vector<std::uint8_t> buffer(4096);
    std::vector<float> samples;
    std::vector<tty::TimedChar> chars;
    const std::vector<float> silence(800, 0.0f);
    bool odd = false;
    std::uint8_t low = 0;
    socket_.non_blocking(true);
    int idle_polls = 0;
    while (true) {
      boost::system::error_code error;
      const std::size_t size = socket_.read_some(asio::buffer(buffer), error);
      if (error == asio::error::would_block) {
        if (++idle_polls == 10) {
          receiver.push(silence);
        }
        std::this_thread::sleep_for(10ms);
      } else if (error) {
        break;
      } else {
        idle_polls = 0;
        samples.clear();
        for (std::size_t i = 0; i < size; ++i) {
          if (!odd) {
            low = buffer[i];
            odd = true;
            continue;
          }
          odd = false;
          const auto value = static_cast<std::int16_t>(low | (buffer[i] << 8));
          samples.push_back(static_cast<float>(value) / 32768.0f);
        }
        receiver.push(samples);
      }
      chars.clear();
      receiver.take_text(chars);
      if (!chars.empty()) {
        std::lock_guard lock(mutex_);
        for (const tty::TimedChar& c : chars) {
          text_.push_back(c.ch == '\r' ? '\n' : c.ch);
        }
      }
    }
    closed_ = true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::string scratch_wav_;
  bool use_minimodem_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string text_;
  std::size_t consumed_ = 0;
  std::atomic<bool> closed_{false};
};

// A gateway with a real billing database, emergency dispatcher and TTY listener on loopback,
// run by two io_context threads. Audio goes out as fast as the socket takes it.
struct Gateway {
  // `tty_detect_timeout`: how long automated collect listens for tones on the called line.
  // `idle_timeout`: how long a line may stay silent, or a connection without its header.
  explicit Gateway(std::chrono::seconds tty_detect_timeout = std::chrono::seconds(10),
                   std::chrono::seconds idle_timeout = std::chrono::seconds(300)) {
    certs = test::make_certificates(dir.file("certs"), {});
    config = test::test_server_config(dir, certs, psap.port());
    test::init_billing_database(config.billing.database);
    dispatcher = std::make_unique<EmergencyDispatcher>(config.emergency);
    REQUIRE(dispatcher->start());
    calls = std::make_unique<CallService>(config.billing, registry, *dispatcher);
    REQUIRE(calls->start());

    config.tty_lines.enabled = true;
    config.tty_lines.listen = {"127.0.0.1", 0};
    config.tty_lines.realtime_pacing = false;
    config.tty_lines.tty_detect_timeout = tty_detect_timeout;
    config.tty_lines.idle_timeout = idle_timeout;
    listener = std::make_unique<TtyListener>(io, config.tty_lines, *calls, registry);
    REQUIRE(listener->start());
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([this] { io.run(); });
    }
  }

  ~Gateway() {
    listener->stop();
    work.reset();
    for (std::thread& thread : threads) {
      thread.join();
    }
    listener.reset();
    calls.reset();
    dispatcher->stop();
  }

  // The session id of the connected line `number`, or "" when none.
  std::string session_of(const std::string& number) const {
    for (const SessionInfo& session : registry.sessions()) {
      if (session.caller_number == number) {
        return session.session_id;
      }
    }
    return "";
  }

  std::optional<CollectSession> collect_of(const std::string& call_id) const {
    for (const CollectSession& session : registry.collect_sessions()) {
      if (session.call_id == call_id) {
        return session;
      }
    }
    return std::nullopt;
  }

  std::optional<billing::CallRecord> stored_call(const std::string& call_id) const {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto record = (*store)->find_call(call_id);
    REQUIRE(record);
    return *record;
  }

  // Adds a prepaid calling card with `pin` through `relaygw card add`, which reads the PIN
  // from standard input.
  void add_card(const std::string& number, const std::string& pin) const {
    const std::string command = std::string("'") + RELAYGW_BINARY + "' card add --db '" +
                                config.billing.database + "' --number " + number +
                                " --funding prepaid --balance 20 >/dev/null 2>&1";
    FILE* pipe = popen(command.c_str(), "w");
    REQUIRE(pipe != nullptr);
    std::fputs((pin + "\n").c_str(), pipe);
    REQUIRE(pclose(pipe) == 0);
  }

  std::uint16_t port() const { return listener->port(); }

  test::TempDir dir;
  test::TestPsap psap;
  DevCertificateFiles certs;
  ServerConfig config;
  SessionRegistry registry;
  std::unique_ptr<EmergencyDispatcher> dispatcher;
  std::unique_ptr<CallService> calls;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
  std::unique_ptr<TtyListener> listener;
  std::vector<std::thread> threads;
};

// Waits until the line `number` has a session in the registry.
std::string wait_session(const Gateway& gateway, const std::string& number) {
  for (int i = 0; i < 250; ++i) {
    const std::string session = gateway.session_of(number);
    if (!session.empty()) {
      return session;
    }
    std::this_thread::sleep_for(20ms);
  }
  return "";
}

// One turn of a menu walk: what the caller types, then the prompt the gateway answers with.
struct MenuStep {
  std::string typed;
  std::string prompt;
};

// Types each step's text and waits for its prompt; returns the text that ended with each
// prompt, in order. Fails the test at the first prompt that does not arrive.
std::vector<std::string> walk_menu(TtyClient& caller, const std::vector<MenuStep>& steps) {
  std::vector<std::string> heard;
  for (const MenuStep& step : steps) {
    INFO("typed '" << step.typed << "', waiting for '" << step.prompt << "'");
    caller.type(step.typed);
    heard.push_back(caller.wait_for(step.prompt));
    REQUIRE_FALSE(heard.back().empty());
  }
  return heard;
}

// Walks the caller's menu through a collect call to 312-555-0104 announced as GRACE OKAFOR,
// confirms the quote and returns its text.
std::string place_collect_call(TtyClient& caller) {
  const std::vector<std::string> heard =
      walk_menu(caller, {
                            {"312 555 0104 GA", "5 CARD GA"},
                            {"2 GA", "ANNOUNCEMENT GA"},
                            {"GRACE OKAFOR GA", "PLACE CALL Y OR N GA"},
                            {"Y GA", "CALLING 312-555-0104 GA"},
                        });
  return heard[2];
}

// A caller at +12125550101 and a called TTY at +13125550104, both at the menu, and the id of
// the caller's first call.
struct CollectLines {
  explicit CollectLines(Gateway& gateway)
      : caller(gateway.port(), "+12125550101", gateway.dir),
        called(gateway.port(), "+13125550104", gateway.dir) {
    REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());
    REQUIRE_FALSE(called.wait_for("NUMBER TO CALL GA").empty());
    const std::string session = wait_session(gateway, "+12125550101");
    REQUIRE_FALSE(session.empty());
    call_id = session + "-c1";
  }

  TtyClient caller;
  TtyClient called;
  std::string call_id;
};

void skip_note() {
  if (!minimodem_installed()) {
    WARN("minimodem is not installed; test audio comes from tty::FskModulator instead");
  }
}

}  // namespace

TEST_CASE("tty session ids pass card check", "[gateway][tty_line]") {
  // A listener's ids must pass the check that rejects card numbers in ids, or the caller's
  // calls are refused from some session on. A time and counter joined by a hyphen alone
  // form one digit run from the 100th session on ("1733439000000-100" is 16 digits).
  for (const std::uint64_t counter : {1, 99, 100, 12345, 9999999}) {
    const std::string session = tty_session_id(1733439000000, counter);
    INFO(session);
    CHECK(session.rfind("tty-1733439000000-", 0) == 0);
    CHECK(billing::check_identifier_card_digits(nullptr, "call", session + "-c1",
                                                billing::IdentifierKind::Id));
    CHECK(billing::check_identifier_card_digits(nullptr, "idempotency_key",
                                                session + "-c1/request",
                                                billing::IdentifierKind::Key));
  }
}

TEST_CASE("tty line collect call posts charge", "[gateway][tty_line]") {
  skip_note();
  Gateway gateway;
  CollectLines lines(gateway);
  TtyClient& caller = lines.caller;
  TtyClient& called = lines.called;
  const std::string& call_id = lines.call_id;

  // The caller's menu, from number to confirmation.
  const std::string quote = place_collect_call(caller);
  CHECK(quote.find("COST $") != std::string::npos);

  // Automated collect: ringing until the called TTY answers with tones.
  std::optional<CollectSession> collect = gateway.collect_of(call_id);
  REQUIRE(collect.has_value());
  CHECK(collect->billed_number == "+13125550104");
  CHECK(collect->state == CollectState::Ringing);

  called.type("HELLO GA");
  const std::string announcement =
      called.wait_for("COLLECT CALL FROM GRACE OKAFOR AT 212-555-0101. ACCEPT CHARGES Y OR N GA");
  REQUIRE_FALSE(announcement.empty());
  collect = gateway.collect_of(call_id);
  REQUIRE(collect.has_value());
  CHECK(collect->state == CollectState::TextPrompt);
  CHECK(collect->tty_tones_heard);

  called.type("Y GA");
  REQUIRE_FALSE(called.wait_for("CONNECTED").empty());
  REQUIRE_FALSE(caller.wait_for("CALL ACCEPTED. CONNECTED").empty());

  // Text is bridged both ways, then SK from the called side ends and posts the call.
  caller.type("HI MOM GA");
  REQUIRE_FALSE(called.wait_for("HI MOM GA").empty());
  // The test audio runs faster than real time; a conversation under one second bills nothing,
  // so the called side waits before it hangs up.
  std::this_thread::sleep_for(1100ms);
  called.type("BYE NOW SK SK");
  REQUIRE_FALSE(caller.wait_for("BYE NOW SK SK").empty());
  REQUIRE_FALSE(caller.wait_for("CALL ENDED BY THE OTHER PARTY").empty());
  REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());
  REQUIRE_FALSE(called.wait_for("NUMBER TO CALL GA").empty());

  std::optional<billing::CallRecord> record = gateway.stored_call(call_id);
  REQUIRE(record.has_value());
  CHECK(record->request.billing == billing::BillingMethod::Collect);
  CHECK(record->request.access == billing::AccessTag::Tty);
  CHECK(record->request.from == "+12125550101");
  CHECK(record->request.billed_number == "+13125550104");
  REQUIRE(record->posting.has_value());
  CHECK(record->posting->total > 0);
  CHECK(record->posting->conversation_seconds.has_value());
  CHECK_FALSE(gateway.collect_of(call_id).has_value());
}

TEST_CASE("tty line staff take-over connects call", "[gateway][tty_line]") {
  skip_note();
  Gateway gateway(std::chrono::seconds(1));
  CollectLines lines(gateway);
  TtyClient& caller = lines.caller;
  TtyClient& called = lines.called;
  const std::string& call_id = lines.call_id;

  place_collect_call(caller);

  // The called side sends no TTY tones, so after the detect timeout the call waits for staff.
  REQUIRE_FALSE(caller.wait_for("AN OPERATOR WILL HELP. PLEASE HOLD").empty());
  std::optional<CollectSession> collect = gateway.collect_of(call_id);
  REQUIRE(collect.has_value());
  CHECK(collect->state == CollectState::AwaitingStaff);
  CHECK_FALSE(collect->tty_tones_heard);

  // Staff take the call over and record the acceptance as the admin API does.
  REQUIRE(gateway.registry.take_over(call_id, "staff:ana"));
  REQUIRE_FALSE(caller.wait_for("AN OPERATOR HAS YOUR CALL. PLEASE HOLD").empty());
  const relay::Instant now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const relay::Acceptance acceptance{call_id, relay::AcceptanceMethod::Voice, "staff:ana", now,
                                     call_id + "/staff-accept"};
  std::vector<Reply> replies = gateway.calls->handle(acceptance, "", now);
  REQUIRE(replies.size() == 1);
  REQUIRE(std::holds_alternative<Ack>(replies.front()));
  gateway.registry.update_collect(call_id, CollectState::Accepted, false);

  // The lines connect without any typed acceptance, and the call posts when it ends.
  REQUIRE_FALSE(caller.wait_for("CALL ACCEPTED. CONNECTED").empty());
  caller.type("HI MOM GA");
  REQUIRE_FALSE(called.wait_for("HI MOM GA").empty());
  std::this_thread::sleep_for(1100ms);  // past one second of conversation, which bills
  caller.type("BYE SK SK");
  REQUIRE_FALSE(called.wait_for("NUMBER TO CALL GA").empty());

  std::optional<billing::CallRecord> record;
  for (int i = 0; i < 250; ++i) {
    record = gateway.stored_call(call_id);
    if (record && record->posting) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(record.has_value());
  REQUIRE(record->posting.has_value());
  CHECK(record->posting->total > 0);
  int acceptances = 0;
  for (const billing::CallEventRecord& event : record->events) {
    if (event.event == billing::CallEvent::Accepted) {
      ++acceptances;
      CHECK(event.accepted_by == "staff:ana");
    }
  }
  CHECK(acceptances == 1);
}

TEST_CASE("tty line unanswered call bills zero", "[gateway][tty_line]") {
  Gateway gateway;
  TtyClient caller(gateway.port(), "+12125550101", gateway.dir);
  REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());
  const std::string session = wait_session(gateway, "+12125550101");
  REQUIRE_FALSE(session.empty());

  walk_menu(caller, {
                        {"312 555 0104 GA", "5 CARD GA"},
                        {"1 GA", "PLACE CALL Y OR N GA"},
                        {"Y GA", "NO ANSWER AT 312-555-0104. NOT BILLED"},
                    });

  std::optional<billing::CallRecord> record = gateway.stored_call(session + "-c1");
  REQUIRE(record.has_value());
  REQUIRE(record->posting.has_value());
  CHECK(record->posting->total == 0);
}

TEST_CASE("tty line wrong PIN heard as text", "[gateway][tty_line]") {
  Gateway gateway;
  gateway.add_card("4111111111119876", "7305");
  TtyClient caller(gateway.port(), "+12125550101", gateway.dir);
  REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());

  const std::vector<std::string> heard = walk_menu(caller, {
                                                               {"312 555 0104 GA", "5 CARD GA"},
                                                               {"5 GA", "CARD NUMBER GA"},
                                                               {"4111 1111 1111 9876 GA", "PIN GA"},
                                                               {"1234 GA", "PLACE CALL Y OR N GA"},
                                                               {"Y GA", "NUMBER TO CALL GA"},
                                                           });
  const std::string& refusal = heard.back();
  CHECK(refusal.find("CALL REFUSED: ") != std::string::npos);
  CHECK(refusal.find("PIN") != std::string::npos);
  // Each reply ends its line, so the next one starts on a new line of the caller's display.
  for (std::size_t i = 1; i < heard.size(); ++i) {
    INFO("reply " << i << ": " << heard[i]);
    CHECK(heard[i].starts_with("\n"));
  }
  CHECK(caller.all_text().find("1234") == std::string::npos);
  CHECK(caller.all_text().find("4111") == std::string::npos);
}

TEST_CASE("tty line bad headers answered and closed", "[gateway][tty_line]") {
  struct Case {
    std::string name;
    std::string header;
    std::string reply_start;      // the start of the gateway's one-line reply
    std::size_t lines_connected;  // lines connected afterwards, counting the one already there
  };
  const std::vector<Case> cases = {
      {"unknown magic", "RELAYGW-TTY/2 line=+12125550101\n", "ERROR bad magic \"RELAYGW-TTY/2\"",
       1},
      {"line already connected", "RELAYGW-TTY/1 line=+12125550101 encoding=ulaw\n",
       "ERROR line +12125550101 is already connected", 1},
  };
  Gateway gateway;
  TtyClient first(gateway.port(), "+12125550101", gateway.dir);
  REQUIRE_FALSE(first.wait_for("NUMBER TO CALL GA").empty());
  for (const Case& test : cases) {
    INFO(test.name);
    asio::io_context io;
    tcp::socket socket = test::connect_plain(io, gateway.port());
    asio::write(socket, asio::buffer(test.header));

    std::string reply;
    boost::system::error_code error;
    asio::read(socket, asio::dynamic_buffer(reply), error);
    CHECK(error == asio::error::eof);
    CHECK(reply.rfind(test.reply_start, 0) == 0);
    REQUIRE_FALSE(reply.empty());
    CHECK(reply.back() == '\n');
    CHECK(gateway.listener->connected_lines() == test.lines_connected);
  }
}

TEST_CASE("tty line header masks card number", "[gateway][tty_line]") {
  // A card number sent in any header field is masked in the reply on the socket and in the log.
  struct Case {
    std::string header;
    std::string reply_start;
  };
  const std::vector<Case> cases = {
      {"RELAYGW-TTY/1 line=+4111111111119876 encoding=pcm16\n",
       "ERROR invalid line number \"+************9876\""},
      {"RELAYGW-TTY/1 line=+12125550101 encoding=pcm16 rate=4111111111119876\n",
       "ERROR invalid rate \"************9876\""},
      {"RELAYGW-TTY/1 line=+12125550101 encoding=4111-1111-1111-9876\n",
       "ERROR unknown encoding \"****-****-****-9876\""},
      {"RELAYGW-TTY/1 line=+12125550101 4111111111119876\n",
       "ERROR header field \"************9876\" is not key=value"},
  };
  test::LogCapture log;
  Gateway gateway;
  for (const Case& test : cases) {
    INFO(test.header);
    asio::io_context io;
    tcp::socket socket = test::connect_plain(io, gateway.port());
    asio::write(socket, asio::buffer(test.header));

    std::string reply;
    boost::system::error_code error;
    asio::read(socket, asio::dynamic_buffer(reply), error);
    CHECK(error == asio::error::eof);
    CHECK(reply.rfind(test.reply_start, 0) == 0);
    CHECK(reply.find("4111") == std::string::npos);
  }
  for (int i = 0; i < 50 && log.count(" rejected: ") < cases.size(); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  INFO(log.text());
  CHECK(log.count(" rejected: ") == cases.size());
  CHECK(log.count("9876") == cases.size());
  CHECK(log.count("4111") == 0);
}

TEST_CASE("tty line stalled caller holds nothing", "[gateway][tty_line]") {
  Gateway gateway;

  // One client stops inside its header, another after half a character, and neither reads.
  asio::io_context io;
  tcp::socket half_header = test::connect_plain(io, gateway.port());
  asio::write(half_header, asio::buffer(std::string("RELAYGW-TTY/1 line=+1718")));
  tcp::socket stalled = test::connect_plain(io, gateway.port());
  asio::write(stalled,
              asio::buffer(std::string("RELAYGW-TTY/1 line=+17185550102 encoding=pcm16\n")));
  std::vector<std::uint8_t> partial;
  tty::FskModulator modulator;
  std::vector<float> samples;
  modulator.modulate(std::vector<std::uint8_t>{0x1f, 0x03}, samples);
  samples.resize(samples.size() / 2);
  append_pcm16(samples, partial);
  asio::write(stalled, asio::buffer(partial));

  const auto started = std::chrono::steady_clock::now();
  TtyClient active(gateway.port(), "+12125550101", gateway.dir);
  REQUIRE_FALSE(active.wait_for("NUMBER TO CALL GA").empty());
  active.type("303 555 0199 GA");
  REQUIRE_FALSE(active.wait_for("5 CARD GA").empty());
  CHECK(std::chrono::steady_clock::now() - started < 15s);
  CHECK(gateway.listener->connected_lines() == 2);
}

TEST_CASE("tty line throttles half-open connection logs", "[gateway][tty_line]") {
  test::LogCapture log;
  {
    Gateway gateway(std::chrono::seconds(10), std::chrono::seconds(1));
    // Twelve clients connect and never send a line header.
    asio::io_context io;
    std::vector<tcp::socket> silent;
    for (int i = 0; i < 12; ++i) {
      silent.push_back(test::connect_plain(io, gateway.port()));
    }
    for (int i = 0; i < 60 && log.count("further ones are counted") == 0; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    // Every silent client is closed by the idle timeout.
    for (tcp::socket& socket : silent) {
      std::array<char, 16> buffer{};
      boost::system::error_code error;
      socket.read_some(asio::buffer(buffer), error);
      CHECK(error == asio::error::eof);
    }
  }
  INFO(log.text());
  CHECK(log.count("no line header within the 1 s idle timeout") == 5);
  CHECK(log.count("tty line from 127.0.0.1:") == 5);
  CHECK(log.count("further ones are counted until the window ends") == 1);
  CHECK(log.count("session= ") == 0);
  CHECK(log.count("line= ") == 0);
}

TEST_CASE("tty line hang-up before call logs info", "[gateway][tty_line]") {
  test::LogCapture log;
  {
    Gateway gateway;
    {
      TtyClient caller(gateway.port(), "+12125550101", gateway.dir);
      REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());
    }
    for (int i = 0; i < 100 && log.count("hung up with no call open") == 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
  }
  INFO(log.text());
  CHECK(log.count_at_level("info", "line hung up with no call open") == 1);
  CHECK(log.count("connection lost") == 0);
}

TEST_CASE("tty line survives noise audio", "[gateway][tty_line]") {
  Gateway gateway;
  TtyClient caller(gateway.port(), "+12125550101", gateway.dir);
  REQUIRE_FALSE(caller.wait_for("NUMBER TO CALL GA").empty());

  // Five seconds of white noise, then five of noise mixed with tones at the TTY frequencies.
  std::mt19937 random(7);
  std::uniform_real_distribution<float> noise(-0.8f, 0.8f);
  std::vector<float> samples(static_cast<std::size_t>(10 * kRate));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = noise(random);
    if (i >= samples.size() / 2) {
      const double hz = (i / 80) % 2 == 0 ? 1400.0 : 1800.0;
      samples[i] = 0.5f * samples[i] +
                   0.4f * static_cast<float>(std::sin(2.0 * 3.14159265 * hz * i / kRate));
    }
  }
  caller.send_audio(samples);
  caller.send_audio(std::vector<float>(static_cast<std::size_t>(kRate), 0.0f));

  // The line still runs the menu: a number typed after the noise gets an answer.
  caller.type("GA");
  caller.type("303 555 0199 GA");
  REQUIRE_FALSE(caller.wait_for(" GA").empty());
  CHECK_FALSE(caller.wait_closed(500ms));
  CHECK(gateway.listener->connected_lines() == 1);
}

}  // namespace relaygw::gateway::server
