// latentcast-cli estimate: the VRAM estimate of a project's training (estimator/), for the device
// found here, a preset GPU or a given capacity, with the breakdown, the savings and what to change
// to fit.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/estimate_input.h"
#include "app/project/project.h"
#include "estimator/estimate.h"

namespace latentcast::cli {
namespace {

using nlohmann::json;

json estimate_json(const estimator::Estimate& e) {
  json breakdown = json::object(), savings = json::object(), blocks = json::array();
  for (const auto& t : e.breakdown) breakdown[t.name] = t.bytes;
  for (const auto& s : e.savings) savings[s.option] = {{"label", s.label}, {"bytes", s.bytes}};
  for (const auto& b : e.blocks) blocks.push_back({{"block", b.name}, {"bytes", b.bytes}});
  return {{"total_bytes", e.total_bytes},
          {"allocated_bytes", e.allocated_bytes},
          {"reserved_bytes", e.reserved_bytes},
          {"context_bytes", e.context_bytes},
          {"breakdown", breakdown},
          {"savings", savings},
          {"blocks", blocks},
          {"peak_phase", e.peak_phase},
          {"vae_stage_bytes", e.vae_stage_bytes},
          {"diffusion_stage_bytes", e.diffusion_stage_bytes},
          {"parameters", e.parameters},
          {"vae_parameters", e.vae_parameters},
          {"attention_backend", to_string(e.backend)},
          {"fits", e.fits},
          {"capacity_bytes", e.capacity_bytes},
          {"margin_bytes", e.margin_bytes}};
}

json recommendation_json(const estimator::Recommendation& r) {
  json changes = json::array();
  for (const auto& c : r.changes)
    changes.push_back({{"key", c.key}, {"value", c.value}, {"total_bytes", c.total_bytes}});
  return {{"capacity_bytes", r.capacity_bytes},
          {"safety", r.safety},
          {"fits_now", r.fits_now},
          {"max_batch_size", r.max_batch_size},
          {"changes", changes}};
}

}  // namespace

int cmd_estimate(const std::vector<std::string>& argv) {
  const Args args(argv, {"--project", "--set", "--device", "--capacity", "--gpu"},
                  {"--json", "--recommend"});
  ProjectConfig config = project::load(args.required("--project"));
  project::apply_overrides(config, args.all("--set"));
  if (args.has("--capacity") && args.has("--gpu"))
    throw UsageError("--capacity and --gpu: give one of them");
  const EstimateTarget target =
      estimate_target(config, args.value("--device", "auto"), args.value("--gpu"),
                      args.integer("--capacity", 0, 1, 1LL << 50));
  const estimator::Estimate e = estimator::estimate(target.request);
  std::optional<estimator::Recommendation> rec;
  if (args.flag("--recommend") && target.request.device.capacity_bytes > 0)
    rec = estimator::recommend(target.request);
  else if (args.flag("--recommend"))
    throw UsageError("--recommend: the capacity is unknown; give --gpu PRESET or --capacity BYTES");

  const auto cal = estimator::calibrated(e, config.calibrations, target.request.device.name);
  if (args.flag("--json")) {
    json out = estimate_json(e);
    if (cal) {
      out["calibrated_total_bytes"] = cal->total_bytes;
      out["calibration"] = {{"ratio", cal->ratio}, {"measured", cal->measured}};
    }
    out["device"] = target.request.device.name;
    out["cuda"] = target.request.device.cuda;
    out["train_segments"] = target.request.data.train_segments;
    if (rec) out["recommendation"] = recommendation_json(*rec);
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  using estimator::format_bytes;
  std::printf("device:    %s%s\n", target.request.device.name.c_str(),
              target.request.device.cuda ? " (CUDA)" : " (tensor bytes; no CUDA context)");
  std::printf("attention: %s   peak during: %s\n", to_string(e.backend), e.peak_phase.c_str());
  std::printf("estimate:  %s", format_bytes(e.total_bytes).c_str());
  if (cal)
    std::printf("   calibrated: %s (measured here %s, x%.3f)",
                format_bytes(cal->total_bytes).c_str(), cal->measured.c_str(), cal->ratio);
  if (e.capacity_bytes > 0)
    std::printf("   of %s: %s, margin %s", format_bytes(e.capacity_bytes).c_str(),
                e.fits ? "fits" : "DOES NOT FIT", format_bytes(e.margin_bytes).c_str());
  std::printf("\n\n  %-20s %12s\n", "breakdown", "bytes");
  for (const auto& t : e.breakdown)
    std::printf("  %-20s %12s\n", t.name.c_str(), format_bytes(t.bytes).c_str());
  if (!e.savings.empty()) std::printf("\n  savings\n");
  for (const auto& s : e.savings)
    std::printf("  %-40s %12s\n", s.label.c_str(), format_bytes(-s.bytes).c_str());
  if (rec) {
    std::printf("\nto fit %s (using at most %.0f %%): largest batch size %d\n",
                format_bytes(rec->capacity_bytes).c_str(), 100 * rec->safety, rec->max_batch_size);
    for (const auto& c : rec->changes)
      std::printf("  --set %s=%s   -> %s\n", c.key.c_str(), c.value.c_str(),
                  format_bytes(c.total_bytes).c_str());
  }
  return kExitOk;
}

}  // namespace latentcast::cli
