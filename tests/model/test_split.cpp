// Split row ranges: ratio and ETT conventions, lookback overlap, window counts and bad settings.
#include "model/data/split.h"

#include <stdexcept>

#include "tests/support/check.h"

using namespace latentcast;
using namespace latentcast::data;

TEST_CASE("ratio split 70/10/20 with lookback overlap") {
  SplitConfig cfg;  // 0.7 / 0.1
  const SplitRows s = compute_split(1000, cfg, 48, 24);
  EXPECT_EQ(s.train.begin, 0);
  EXPECT_EQ(s.train.end, 700);
  EXPECT_EQ(s.val.begin, 700 - 48);
  EXPECT_EQ(s.val.end, 800);
  EXPECT_EQ(s.test.begin, 800 - 48);
  EXPECT_EQ(s.test.end, 1000);
}

TEST_CASE("ett split follows the published protocol") {
  SplitConfig cfg;
  cfg.mode = SplitMode::Ett;
  const SplitRows s = compute_split(17420, cfg, 96, 96);
  EXPECT_EQ(s.train.end, 8640);
  EXPECT_EQ(s.val.begin, 8640 - 96);
  EXPECT_EQ(s.val.end, 11520);
  EXPECT_EQ(s.test.begin, 11520 - 96);
  EXPECT_EQ(s.test.end, 14400);
  // 2785 test windows at L = H = 96, stride 1: the count the published tables use.
  EXPECT_EQ(window_count(s.test, 96, 96, 1), 2785);
}

TEST_CASE("window counts") {
  EXPECT_EQ(window_count({0, 10}, 4, 2, 1), 5);
  EXPECT_EQ(window_count({0, 10}, 4, 2, 2), 3);
  EXPECT_EQ(window_count({0, 5}, 4, 2, 1), 0);
  EXPECT_EQ(window_count({0, 6}, 4, 2, 1), 1);
}

TEST_CASE("a split too short for one window is refused with the numbers") {
  SplitConfig cfg;
  EXPECT_THROWS_WITH(compute_split(100, cfg, 96, 24), std::invalid_argument,
                     "fewer than lookback + horizon");
  cfg.mode = SplitMode::Ett;
  EXPECT_THROWS_WITH(compute_split(5000, cfg, 96, 96), std::invalid_argument,
                     "needs at least 14400 rows");
  EXPECT_THROWS_WITH(compute_split(5000, SplitConfig{}, 0, 96), std::invalid_argument, "lookback");
}

LCTEST_MAIN
