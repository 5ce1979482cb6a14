// Rating throughput: calls rated per second on one thread, in memory, with the example deck.
// Usage: rating_bench [calls]   (default 400000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"

using namespace relaygw::billing;

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 400'000;
  const auto load_start = std::chrono::steady_clock::now();
  auto plan = NumberPlan::load(default_data_dir());
  if (!plan) {
    std::fprintf(stderr, "%s\n", plan.status().message().c_str());
    return 1;
  }
  const auto load_end = std::chrono::steady_clock::now();
  auto deck = RateDeck::load(default_data_dir() / "rates");
  if (!deck) {
    std::fprintf(stderr, "%s\n", deck.status().message().c_str());
    return 1;
  }
  const Rater rater(&*plan, &*deck);

  // A mix of jurisdictions, billing methods, access tags and durations across a week.
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"2125550107", "3125550142"}, {"2135550107", "4155550142"}, {"3032051234", "6022120000"},
      {"2012001234", "2012161234"}, {"8085451234", "2125550142"}, {"2125550107", "+442079460000"},
  };
  const BillingMethod methods[] = {BillingMethod::SentPaid, BillingMethod::Collect,
                                   BillingMethod::CallingCard, BillingMethod::ThirdNumber};
  const AccessTag tags[] = {AccessTag::None, AccessTag::Tty, AccessTag::RelayTty};
  std::vector<CallToRate> mix;
  for (int i = 0; i < 1024; ++i) {
    CallToRate call;
    call.from = routes[i % routes.size()].first;
    call.to = routes[i % routes.size()].second;
    call.billing = methods[i % 4];
    call.access = tags[i % 3];
    call.start = std::chrono::sys_seconds{std::chrono::seconds{1'773'100'000 + i * 593}};
    call.billable_seconds = 30 + (i * 37) % 900;
    mix.push_back(call);
  }

  long failures = 0;
  Money checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    auto rated = rater.rate(mix[i % mix.size()]);
    if (!rated) {
      ++failures;
      continue;
    }
    checksum += rated->total;
  }
  const auto end = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end - start).count();
  std::printf("number plan load: %.1f ms\n",
              std::chrono::duration<double, std::milli>(load_end - load_start).count());
  std::printf(
      "rated %ld calls in %.3f s: %.0f calls/s on one thread (failures %ld, checksum %lld)\n",
      calls, seconds, calls / seconds, failures, static_cast<long long>(checksum));
  return failures == 0 ? 0 : 1;
}
