// Enum spellings of the project file; one table per enum so to_string and parsing cannot drift
// apart.
#include "estimator/config.h"

#include <array>
#include <utility>

namespace latentcast {
namespace {

template <class E, std::size_t N>
using Table = std::array<std::pair<E, const char*>, N>;

constexpr Table<AttentionBackend, 9> kBackends{{{AttentionBackend::Math, "math"},
                                                {AttentionBackend::Sliced, "sliced"},
                                                {AttentionBackend::Flash, "flash"},
                                                {AttentionBackend::Sage, "sage"},
                                                {AttentionBackend::Linear, "linear"},
                                                {AttentionBackend::Channel, "channel"},
                                                {AttentionBackend::LocalWindow, "local_window"},
                                                {AttentionBackend::Sdpa, "sdpa"},
                                                {AttentionBackend::Auto, "auto"}}};
constexpr Table<CheckpointMode, 3> kCheckpoint{{{CheckpointMode::None, "none"},
                                                {CheckpointMode::Attention, "attention"},
                                                {CheckpointMode::All, "all"}}};
constexpr Table<Precision, 3> kPrecision{
    {{Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}}};
constexpr Table<Conditioning, 3> kConditioning{{{Conditioning::Concat, "concat"},
                                                {Conditioning::CrossAttention, "cross_attention"},
                                                {Conditioning::Both, "both"}}};
constexpr Table<Prediction, 2> kPrediction{
    {{Prediction::Epsilon, "epsilon"}, {Prediction::V, "v"}}};
constexpr Table<NoiseSchedule, 2> kSchedule{
    {{NoiseSchedule::Linear, "linear"}, {NoiseSchedule::Cosine, "cosine"}}};
constexpr Table<Sampler, 2> kSampler{{{Sampler::Ddpm, "ddpm"}, {Sampler::Ddim, "ddim"}}};
constexpr Table<SplitMode, 2> kSplit{{{SplitMode::Ratio, "ratio"}, {SplitMode::Ett, "ett"}}};
constexpr Table<MissingPolicy, 2> kMissing{
    {{MissingPolicy::Reject, "reject"}, {MissingPolicy::FillForward, "fill_forward"}}};

template <class E, std::size_t N>
const char* name_of(const Table<E, N>& table, E v) {
  for (const auto& [e, name] : table)
    if (e == v) return name;
  return "?";
}

template <class E, std::size_t N>
std::optional<E> parse(const Table<E, N>& table, const std::string& s) {
  for (const auto& [e, name] : table)
    if (s == name) return e;
  return std::nullopt;
}

template <class E, std::size_t N>
std::vector<std::string> names(const Table<E, N>& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.second);
  return out;
}

}  // namespace

#define LATENTCAST_ENUM_TABLE(Type, table)                           \
  const char* to_string(Type v) {                                    \
    return name_of(table, v);                                        \
  }                                                                  \
  template <>                                                        \
  std::optional<Type> enum_from_string<Type>(const std::string& s) { \
    return parse(table, s);                                          \
  }                                                                  \
  template <>                                                        \
  const std::vector<std::string>& enum_names<Type>() {               \
    static const std::vector<std::string> kNames = names(table);     \
    return kNames;                                                   \
  }

LATENTCAST_ENUM_TABLE(AttentionBackend, kBackends)
LATENTCAST_ENUM_TABLE(CheckpointMode, kCheckpoint)
LATENTCAST_ENUM_TABLE(Precision, kPrecision)
LATENTCAST_ENUM_TABLE(Conditioning, kConditioning)
LATENTCAST_ENUM_TABLE(Prediction, kPrediction)
LATENTCAST_ENUM_TABLE(NoiseSchedule, kSchedule)
LATENTCAST_ENUM_TABLE(Sampler, kSampler)
LATENTCAST_ENUM_TABLE(SplitMode, kSplit)
LATENTCAST_ENUM_TABLE(MissingPolicy, kMissing)

#undef LATENTCAST_ENUM_TABLE

}  // namespace latentcast
