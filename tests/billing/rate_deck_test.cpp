#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "billing/rate_deck.hpp"

using namespace relaygw::billing;
using relaygw::Result;

namespace {

constexpr const char* kMinimalVersion = R"(
[[version]]
name = "v1"
effective = 2026-01-01

[[version.rate]]
jurisdiction = "interstate"
per_minute = { night = "0.1000" }
)";

// A temporary folder removed when the test ends.
class TempFolder {
 public:
  TempFolder() {
    path_ = std::filesystem::temp_directory_path() /
            ("relaygw-deck-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("rate deck parses a full version", "[billing][deck]") {
  Result<RateDeck> deck = RateDeck::load(std::string(RELAYGW_SOURCE_DIR) + "/data/rates");
  REQUIRE(deck);
  REQUIRE(deck->versions().size() == 2);
  const RateDeckVersion* version = deck->version_for(LocalDate{2026, 3, 10});
  REQUIRE(version != nullptr);
  CHECK(version->name == "2026 example tariff");
  CHECK(version->additional_seconds == 6);
  CHECK(version->period_rules.size() == 2);
  CHECK(version->period_rules[0].start_minute == 7 * 60);
  CHECK(version->period_rules[0].weekday_mask == 0b0111110);
  CHECK_FALSE(version->holidays.empty());
  CHECK_FALSE(version->accessibility.tty_discounts.empty());
  CHECK(deck->version_for(LocalDate{2025, 12, 31})->name == "2025 example tariff");
  CHECK(deck->version_for(LocalDate{2024, 12, 31}) == nullptr);
  const RateCenterCoordinates* chicago = deck->coordinates("Chicago, IL");
  REQUIRE(chicago != nullptr);
  CHECK(chicago->v == 5986);
}

TEST_CASE("rate deck merges versions from files", "[billing][deck]") {
  TempFolder folder;
  folder.write("a.toml", std::string("name = \"a\"\n") + kMinimalVersion);
  std::string second = kMinimalVersion;
  second.replace(second.find("2026-01-01"), 10, "2027-01-01");
  second.replace(second.find("\"v1\""), 4, "\"v2\"");
  folder.write("b.toml", second);
  Result<RateDeck> deck = RateDeck::load(folder.path());
  REQUIRE(deck);
  CHECK(deck->versions().size() == 2);
  CHECK(deck->version_for(LocalDate{2027, 6, 1})->name == "v2");

  SECTION("two files with one effective date") {
    folder.write("c.toml", kMinimalVersion);
    Result<RateDeck> clash = RateDeck::load(folder.path());
    REQUIRE_FALSE(clash);
    CHECK(clash.status().message().find("c.toml") != std::string::npos);
    CHECK(clash.status().message().find("same effective date") != std::string::npos);
  }
}

TEST_CASE("rate deck read keeps file texts", "[billing][deck]") {
  TempFolder folder;
  const std::string centers =
      "# coordinates\n[[rate_center]]\nname = \"Chicago, IL\"\n"
      "v = 5986\nh = 3426\n";
  std::string later = kMinimalVersion;
  later.replace(later.find("2026-01-01"), 10, "2027-01-01");
  later.replace(later.find("\"v1\""), 4, "\"v2\"");
  folder.write("c-2027.toml", later);
  folder.write("a-centers.toml", centers);
  folder.write("b-2026.toml", std::string("name = \"split\"\n") + kMinimalVersion);

  Result<RateDeckSource> source = read_rate_deck(folder.path(), "--rates");
  REQUIRE(source);
  REQUIRE(source->files.size() == 3);
  CHECK(source->files[0].name == "a-centers.toml");
  CHECK(source->files[0].text == centers);
  CHECK(source->files[1].name == "b-2026.toml");
  CHECK(source->files[2].name == "c-2027.toml");
  CHECK(source->files[2].text == later);
  CHECK(source->deck.versions().size() == 2);

  // The merged document parses into the same deck, without the comments of the files.
  CHECK(source->merged_text.find("# coordinates") == std::string::npos);
  Result<RateDeck> merged = RateDeck::parse(source->merged_text, "merged.toml");
  REQUIRE(merged);
  CHECK(merged->name() == source->deck.name());
  REQUIRE(merged->versions().size() == 2);
  CHECK(merged->versions()[0].name == "v1");
  CHECK(merged->versions()[1].name == "v2");
  REQUIRE(merged->coordinates("Chicago, IL") != nullptr);
  CHECK(merged->coordinates("Chicago, IL")->v == 5986);

  // One file is its own merged document.
  Result<RateDeckSource> single = read_rate_deck(folder.path() / "c-2027.toml");
  REQUIRE(single);
  REQUIRE(single->files.size() == 1);
  CHECK(single->merged_text == later);
}

TEST_CASE("rate deck folder rejects FIFO", "[billing][deck]") {
  TempFolder folder;
  folder.write("a.toml", std::string("name = \"a\"\n") + kMinimalVersion);
  const std::filesystem::path fifo = folder.path() / "b.toml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening the FIFO would block this test until a writer appears.
  Result<RateDeck> deck = RateDeck::load(folder.path(), "--rates");
  REQUIRE_FALSE(deck);
  CHECK(deck.status().message().find("'" + fifo.string() + "' is a FIFO") != std::string::npos);

  Result<RateDeck> direct = RateDeck::load(fifo, "--rates");
  REQUIRE_FALSE(direct);
  CHECK(direct.status().message().find("is a FIFO; pass --rates FILE") != std::string::npos);
}

TEST_CASE("rate deck merges centers-only file", "[billing][deck]") {
  TempFolder folder;
  folder.write("a-centers.toml", "[[rate_center]]\nname = \"Chicago, IL\"\nv = 5986\nh = 3426\n");
  folder.write("b-2026.toml", std::string("name = \"split\"\n") + kMinimalVersion);
  // Subfolders are not part of the deck, whatever their name.
  std::filesystem::create_directory(folder.path() / "x.toml");
  Result<RateDeck> deck = RateDeck::load(folder.path());
  INFO((deck ? std::string() : deck.status().message()));
  REQUIRE(deck);
  CHECK(deck->versions().size() == 1);
  const RateCenterCoordinates* chicago = deck->coordinates("Chicago, IL");
  REQUIRE(chicago != nullptr);
  CHECK(chicago->v == 5986);

  SECTION("no file with a version") {
    std::filesystem::remove(folder.path() / "b-2026.toml");
    Result<RateDeck> centers_only = RateDeck::load(folder.path());
    REQUIRE_FALSE(centers_only);
    CHECK(centers_only.status().message().find("no [[version]] table in any file") !=
          std::string::npos);
  }
}

TEST_CASE("rate deck errors name caller option", "[billing][deck]") {
  TempFolder folder;
  folder.write("A.TOML", std::string("name = \"a\"\n") + kMinimalVersion);
  Result<RateDeck> empty = RateDeck::load(folder.path(), "--rates");
  REQUIRE_FALSE(empty);
  CHECK(empty.status().message().find("pass --rates FILE") != std::string::npos);
  CHECK(empty.status().message().find("--deck") == std::string::npos);
  CHECK(empty.status().message().find(".TOML are not read") != std::string::npos);

  Result<RateDeck> missing = RateDeck::load(folder.path() / "none.toml", "--rates");
  REQUIRE_FALSE(missing);
  CHECK(missing.status().message().find("pass --rates FILE") != std::string::npos);
}

TEST_CASE("rate deck reports missing files", "[billing][deck]") {
  Result<RateDeck> deck = RateDeck::load("/nonexistent/deck.toml");
  REQUIRE_FALSE(deck);
  CHECK(deck.status().code() == relaygw::StatusCode::NotFound);
  CHECK(deck.status().message().find("/nonexistent/deck.toml") != std::string::npos);
}

TEST_CASE("rate deck names bad lines", "[billing][deck]") {
  struct Row {
    const char* find;     // text in the minimal deck to replace
    const char* replace;  // the bad text
    int line;             // line the message must name
    const char* named;    // key or value the message must name
    const char* fix;      // part of the fix the message must give
  };
  const Row rows[] = {
      {"\"0.1000\"", "0.1", 8, "per_minute.night", "quoted"},
      {"\"0.1000\"", "\"0.10000\"", 8, "0.10000", "four decimals"},
      {"\"0.1000\"", "\"-0.10\"", 8, "-0.10", "positive"},
      {"\"0.1000\"", "\"10000.0001\"", 8, "10000.0001", "typing error"},
      {"\"0.1000\"", "\"99999999.9999\"", 8, "largest deck amount $10000.0000", "typing error"},
      {"2026-01-01", "\"January\"", 4, "version.effective", "2026-01-01"},
      {"\"interstate\"", "\"interplanetary\"", 7, "interplanetary", "interstate"},
      {"night = ", "nite = ", 8, "nite", "undefined rate period"},
      {"name = \"v1\"", "name = \"v1\"\nrounding = \"down\"", 4, "down", "half-even"},
      {"name = \"v1\"", "name = \"v1\"\nincrement = 6", 4, "version.increment",
       "additional_seconds"},
      {"name = \"v1\"", "name = \"v1\"\ninitial_seconds = 0", 4, "initial_seconds", "1 to 3600"},
      {"per_minute = { night = \"0.1000\" }",
       "per_minute = { night = \"0.1000\" }\nmax_miles = \"far\"", 9, "max_miles", "integer"},
      {"effective = 2026-01-01",
       "effective = 2026-01-01\n[[version.period]]\nname = \"day\"\ndays = [\"mon\"]\nstart = "
       "\"7am\"\nend = \"19:00\"",
       8, "7am", "HH:MM"},
      {"effective = 2026-01-01", "effective = 2026-01-01\nholidays = [\"July 4\"]", 5, "holidays",
       "date"},
      {"[[version.rate]]", "[[version.rate]", 6, "invalid TOML", "syntax"},
  };
  for (const Row& row : rows) {
    std::string text = kMinimalVersion;
    text.replace(text.find(row.find), std::string(row.find).size(), row.replace);
    Result<RateDeck> deck = RateDeck::parse(text, "bad.toml");
    INFO("replacing " << row.find << " with " << row.replace);
    REQUIRE_FALSE(deck);
    const std::string& message = deck.status().message();
    INFO("message " << message);
    CHECK(message.find("bad.toml:" + std::to_string(row.line)) != std::string::npos);
    CHECK(message.find(row.named) != std::string::npos);
    CHECK(message.find(row.fix) != std::string::npos);
  }
}

TEST_CASE("rate deck requires every period price", "[billing][deck]") {
  std::string text = kMinimalVersion;
  text.replace(text.find("effective = 2026-01-01"), 22,
               "effective = 2026-01-01\n[[version.period]]\nname = \"day\"\ndays = [\"mon\"]\n"
               "start = \"07:00\"\nend = \"19:00\"");
  Result<RateDeck> deck = RateDeck::parse(text, "gap.toml");
  REQUIRE_FALSE(deck);
  CHECK(deck.status().message().find("no price for period 'day'") != std::string::npos);
}
