// The TTY line part of a replay: calls placed through the gateway's text menu, with the
// caller's answers played from recorded audio and the called line answering the
// announcement.
#include <filesystem>
#include <future>
#include <thread>

#include "gateway/logging.hpp"
#include "gateway/replay/steps.hpp"
#include "tty/audio_file.hpp"

namespace relaygw::gateway::replay {
namespace {

// The caller's TTY types this to hang up.
const TtyAnswer kHangUp{"SK SK", "tty-hangup.wav"};
// The called TTY sends this when the call rings, so the gateway hears TTY tones on it.
const TtyAnswer kCalledGreeting{"Y GA", "tty-accept-yes.wav"};

// Words in the gateway's last prompt that mean the call was refused.
bool sounds_refused(const std::string& prompt) {
  for (const char* word : {"REFUSED", "NOT ALLOWED", "DECLINED", "CANNOT", "LOCKED", "WRONG"}) {
    if (prompt.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

Status send_answer(TtyLineClient& line, const TtyAnswer& answer, const std::string& audio_dir) {
  const std::string path = (std::filesystem::path(audio_dir) / answer.audio).string();
  auto audio = tty::read_audio_file(path);
  if (!audio.is_ok()) {
    return Status(
        audio.status().code(),
        audio.status().message() + "; run scripts/make-day-audio to make the day's audio");
  }
  return line.send_audio(*audio);
}

// The called line: waits for the announcement, answers it, and stays on until `hang_up`.
Status run_called_line(const ReplayOptions& options, const TtyCall& call,
                       const std::string& audio_dir, std::shared_future<void> ringing,
                       std::shared_future<void> hang_up, std::vector<std::string>& prompts) {
  TtyLineClient line;
  Status status =
      line.connect(options.tty_address, options.tty_port, call.called_line, options.timeout);
  if (status.is_ok()) {
    // The line's own menu greets it first; the call rings once the caller confirms.
    auto greeting = line.wait_prompt(options.timeout);
    ringing.wait();
    status = greeting.is_ok() ? send_answer(line, kCalledGreeting, audio_dir) : greeting.status();
  }
  if (status.is_ok()) {
    status = answer_prompts(line, call.called_answers, audio_dir, options.timeout, prompts);
  }
  hang_up.wait();
  line.close();
  return status;
}

void run_tty_call(ReplayContext& context, const TtyCall& call) {
  const ReplayOptions& options = context.options;
  CallOutcome outcome{call.id, "tty-line", "tty", call.billing, "accepted", "failed", "", ""};
  std::promise<void> hang_up;
  std::shared_future<void> hung_up = hang_up.get_future().share();
  std::promise<void> ring;
  std::shared_future<void> ringing = ring.get_future().share();
  bool rang = false;
  std::vector<std::string> called_prompts;
  std::future<Status> called;
  if (!call.called_line.empty()) {
    called = std::async(std::launch::async, [&] {
      return run_called_line(options, call, context.day.audio_dir, ringing, hung_up,
                             called_prompts);
    });
  }

  TtyLineClient line;
  std::vector<std::string> prompts;
  Status status = line.connect(options.tty_address, options.tty_port, call.line, options.timeout);
  if (status.is_ok()) {
    status = answer_prompts(line, call.answers, context.day.audio_dir, options.timeout, prompts);
  }
  if (status.is_ok()) {
    // The gateway's next prompt reports the outcome: approved, or refused with a reason.
    auto outcome_prompt = line.wait_prompt(options.timeout);
    const std::string prompt = outcome_prompt.is_ok() ? *outcome_prompt : line.pending_text();
    prompts.push_back(prompt);
    outcome.result = sounds_refused(prompt) ? "refused" : "accepted";
    outcome.reason = prompt;
    ring.set_value();
    rang = true;
    if (outcome.result == "accepted") {
      // The called line answers (or takes the announcement first), then both lines are
      // connected; hanging up earlier would cancel the call unbilled.
      status = line.wait_for_text("CONNECTED", options.timeout);
      if (!status.is_ok()) {
        outcome.result = "failed";
        outcome.reason = status.message();
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(context.day.tty_talk_seconds));
    Status hang_up_sent = send_answer(line, kHangUp, context.day.audio_dir);
    if (hang_up_sent.is_ok()) {
      // Give the gateway time to hear the hang-up: it answers "CALL ENDED" and the number
      // prompt, which ends in GA.
      auto closing = line.wait_prompt(std::chrono::seconds(20));
      (void)closing;
    }
  } else {
    outcome.reason = status.message();
  }
  line.close();
  if (!rang) {
    ring.set_value();
  }
  hang_up.set_value();
  if (called.valid()) {
    Status called_status = called.get();
    if (!called_status.is_ok()) {
      context.problem("call " + call.id + ": called line " + call.called_line + ": " +
                      called_status.message());
    }
  }
  if (outcome.result != "accepted") {
    context.problem("call " + call.id + ": expected accepted, got " + outcome.result + " (" +
                    outcome.reason + ")");
  }
  logger("gateway")->info("replay call={} line={} result={} prompts={}", call.id, call.line,
                          outcome.result, prompts.size());
  context.summary.calls.push_back(std::move(outcome));
}

}  // namespace

Status answer_prompts(TtyLineClient& line, const std::vector<TtyAnswer>& answers,
                      const std::string& audio_dir, std::chrono::milliseconds timeout,
                      std::vector<std::string>& prompts) {
  for (const TtyAnswer& answer : answers) {
    auto prompt = line.wait_prompt(timeout);
    if (!prompt.is_ok()) {
      return Status(prompt.status().code(),
                    "before answer \"" + answer.text + "\": " + prompt.status().message());
    }
    prompts.push_back(*prompt);
    logger("gateway")->debug("replay prompt=\"{}\" answer_audio={}", *prompt, answer.audio);
    Status sent = send_answer(line, answer, audio_dir);
    if (!sent.is_ok()) {
      return sent;
    }
  }
  return Status::ok();
}

void run_tty_calls(ReplayContext& context) {
  for (const TtyCall& call : context.day.tty_calls) {
    run_tty_call(context, call);
  }
}

}  // namespace relaygw::gateway::replay
