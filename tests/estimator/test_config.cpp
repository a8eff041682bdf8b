// Enum spellings of the project file round-trip and reject unknown names.
#include "estimator/config.h"

#include "tests/support/check.h"

using namespace latentcast;

template <class E>
void check_round_trip() {
  const auto& names = enum_names<E>();
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    const auto value = enum_from_string<E>(name);
    REQUIRE(value.has_value());
    EXPECT_EQ(std::string(to_string(*value)), name);
  }
  EXPECT(!enum_from_string<E>("no-such-name").has_value());
  EXPECT(!enum_from_string<E>("").has_value());
}

TEST_CASE("every enum round-trips through its spelling") {
  check_round_trip<AttentionBackend>();
  check_round_trip<CheckpointMode>();
  check_round_trip<Precision>();
  check_round_trip<Conditioning>();
  check_round_trip<Prediction>();
  check_round_trip<NoiseSchedule>();
  check_round_trip<Sampler>();
  check_round_trip<SplitMode>();
  check_round_trip<MissingPolicy>();
}

TEST_CASE("the project-file contract spellings") {
  EXPECT_EQ(enum_names<AttentionBackend>().size(), std::size_t(9));
  EXPECT(enum_from_string<AttentionBackend>("local_window") == AttentionBackend::LocalWindow);
  EXPECT(enum_from_string<AttentionBackend>("sdpa") == AttentionBackend::Sdpa);
  EXPECT(enum_from_string<CheckpointMode>("attention") == CheckpointMode::Attention);
  EXPECT(enum_from_string<Precision>("bf16") == Precision::Bf16);
  EXPECT(enum_from_string<MissingPolicy>("fill_forward") == MissingPolicy::FillForward);
  EXPECT(!enum_from_string<AttentionBackend>("Flash").has_value());  // case matters, as in the file
}

LCTEST_MAIN
