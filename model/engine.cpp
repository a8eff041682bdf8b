// engine::forecast and engine::evaluate: load a checkpoint, sample K forecasts per window, read
// them out in the original units (forecast) or score them beside the baselines on a split
// (evaluate).
#include "model/engine.h"

#include <chrono>

#include "model/baselines.h"
#include "model/engine_internal.h"
#include "model/forecaster.h"
#include "model/metrics.h"

namespace latentcast::engine {
namespace {

using detail::DeviceChoice;
using detail::PreparedData;

std::vector<std::vector<double>> to_rows(const torch::Tensor& hc) {  // [H, C] -> nested
  const torch::Tensor t = hc.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<std::vector<double>> out(static_cast<std::size_t>(t.size(0)));
  const double* p = t.data_ptr<double>();
  for (std::int64_t i = 0; i < t.size(0); ++i)
    out[std::size_t(i)].assign(p + i * t.size(1), p + (i + 1) * t.size(1));
  return out;
}

// The forecaster of a checkpoint, for a project whose inputs must match the checkpoint's.
std::unique_ptr<Forecaster> load_forecaster(const ProjectConfig& config, const PreparedData& data,
                                            const std::string& checkpoint, const DeviceChoice& dev,
                                            const Callbacks& callbacks) {
  std::unique_ptr<Forecaster> f;
  detail::translate_errors([&] {
    if (checkpoint.empty())
      throw std::invalid_argument("--checkpoint: no checkpoint given and the project has no run");
    ForecasterMeta meta = Forecaster::read_meta(checkpoint);
    check_compatible(meta, data.columns, config, checkpoint);
    std::string note;
    const AttentionSettings attention = detail::attention_for(config, dev, &note);
    if (!note.empty() && callbacks.on_message) callbacks.on_message(note);
    f = std::make_unique<Forecaster>(config, std::move(meta), attention, dev.device);
    f->load(checkpoint, nullptr, false);
  });
  return f;
}

Scores to_scores(const std::string& name, const latentcast::Scores& s) {
  return {name, s.mse, s.mae, s.crps, s.coverage50, s.coverage90};
}

}  // namespace

Forecast forecast(const ForecastRequest& request, const Callbacks& callbacks) {
  const ProjectConfig& config = request.config;
  const DeviceChoice dev = detail::choose_device(request.device);
  const PreparedData data = detail::prepare_data(config);
  auto f = load_forecaster(config, data, request.checkpoint, dev, callbacks);
  Forecast out;
  detail::translate_errors([&] {
    const std::int64_t T = data.raw.size(0), L = config.dataset.lookback,
                       H = config.dataset.horizon;
    const std::int64_t origin = request.origin < 0 ? T : request.origin;
    if (origin < L || origin > T)
      throw std::invalid_argument("--origin: must be between the lookback (" + std::to_string(L) +
                                  ") and the number of rows (" + std::to_string(T) + "), got " +
                                  std::to_string(origin));
    const data::Scaler scaler{f->meta().scaler_mean, f->meta().scaler_std};
    const torch::Tensor history =
        scaler.transform(data.raw.slice(0, origin - L, origin)).t().contiguous();  // [C, L]
    const std::int64_t K = request.samples >= 1 ? request.samples : config.forecasting.samples;
    const std::uint64_t seed = request.seed != 0 ? request.seed : config.forecasting.seed;
    const torch::Tensor samples =
        f->sample(history, K, config.forecasting.sampler, config.forecasting.steps,
                  config.forecasting.eta, seed);  // [K, C, H]
    const torch::Tensor values =
        scaler.inverse(samples.permute({0, 2, 1}).to(torch::kCPU)).unsqueeze(1);  // [K, 1, H, C]
    const Quantiles q = quantiles(values);
    out.columns = data.columns;
    out.q05 = to_rows(q.q05[0]);
    out.q25 = to_rows(q.q25[0]);
    out.median = to_rows(q.median[0]);
    out.q75 = to_rows(q.q75[0]);
    out.q95 = to_rows(q.q95[0]);
    const data::Sampling sampling = data::sampling_of(data.table);
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t row = origin + h;
      out.rows.push_back(row);
      if (!data.table.timestamps.empty())
        out.timestamps.push_back(row < T ? data.table.timestamps[std::size_t(row)]
                                         : data.table.timestamps.back() +
                                               (row - T + 1) * sampling.interval_seconds);
    }
    if (origin + H <= T) out.actual = to_rows(data.raw.slice(0, origin, origin + H));
  });
  return out;
}

Evaluation evaluate(const EvaluateRequest& request, const Callbacks& callbacks) {
  const ProjectConfig& config = request.config;
  const DeviceChoice dev = detail::choose_device(request.device);
  const PreparedData data = detail::prepare_data(config);
  auto f = load_forecaster(config, data, request.checkpoint, dev, callbacks);
  Evaluation ev;
  detail::translate_errors([&] {
    if (request.split != "val" && request.split != "test")
      throw std::invalid_argument("--split: must be val or test, got \"" + request.split + "\"");
    const auto started = std::chrono::steady_clock::now();
    const std::int64_t L = config.dataset.lookback, H = config.dataset.horizon;
    const data::Scaler scaler{f->meta().scaler_mean, f->meta().scaler_std};
    const torch::Tensor scaled = scaler.transform(data.raw);
    // Evaluation uses every window of the split (stride 1), as the published protocols do.
    const data::RowRange range = request.split == "val" ? data.split.val : data.split.test;
    auto windows = data::make_windows(scaled, range, int(L), int(H), 1);
    std::int64_t N = windows.history.size(0);
    if (N == 0)
      throw std::invalid_argument("dataset.split: the " + request.split + " split holds no window");
    if (request.max_windows > 0 && request.max_windows < N) {
      const torch::Tensor pick = torch::linspace(0, N - 1, request.max_windows).to(torch::kLong);
      windows.history = windows.history.index_select(0, pick);
      windows.future = windows.future.index_select(0, pick);
      N = request.max_windows;
    }
    const std::int64_t C = windows.history.size(2);
    const std::int64_t K = request.samples >= 1 ? request.samples : config.forecasting.samples;
    const torch::Tensor targets = torch::tensor(data.target_index, torch::kLong);
    const auto pick_targets = [&](const torch::Tensor& x) { return x.index_select(-1, targets); };

    const torch::Tensor samples =
        f->sample(detail::segments(windows.history), K, config.forecasting.sampler,
                  config.forecasting.steps, config.forecasting.eta,
                  config.forecasting.seed);  // [K, N*C, H]
    const torch::Tensor forecasts = samples.to(torch::kCPU)
                                        .view({K, N, C, H})
                                        .permute({0, 1, 3, 2})
                                        .contiguous();  // [K, N, H, C]
    const torch::Tensor truth = pick_targets(windows.future);
    ev.scores.push_back(to_scores("latentcast", score_samples(pick_targets(forecasts), truth)));

    ev.scores.push_back(to_scores(
        "last_value", score_point(pick_targets(last_value_forecast(windows.history, H)), truth)));
    const std::int64_t period = f->meta().period > 0 ? f->meta().period : 1;
    ev.scores.push_back(to_scores(
        "seasonal_naive",
        score_point(pick_targets(seasonal_naive_forecast(windows.history, H, period)), truth)));
    const auto train =
        data::make_windows(scaled, data.split.train, int(L), int(H), config.dataset.stride);
    LinearBaseline linear;
    linear.fit(train.history, train.future);
    ev.scores.push_back(
        to_scores("linear", score_point(pick_targets(linear.predict(windows.history)), truth)));

    ev.split = request.split;
    ev.windows = N;
    ev.samples = K;
    ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  });
  return ev;
}

}  // namespace latentcast::engine
